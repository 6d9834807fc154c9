"""cocotb tests of the board top (BoardCore around the generated ModelTop): the host code of
`python -m hw host` runs a test set over the simulated serial lines and every output beat
must equal the reference model's. sim/test_board_top.py builds and runs this module."""

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles

from hw import metrics
from hw.board.host import run_testset
from hw.board.session import Timing
from hw.modelfile import load

from .board_transport import SimTransport


def config() -> dict:
    return json.loads(Path(os.environ["BOARD_SIM_CONFIG"]).read_text())


async def start(dut, cfg):
    period_ns = 1e9 / cfg["clock_hz"]
    cocotb.start_soon(Clock(dut.clk, round(period_ns), unit="ns").start())
    dut.rst.value = 1
    dut.rx.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)


@cocotb.test()
async def testset_over_uart(dut):
    """The whole test set through the UART link; optionally one corrupted frame and some
    garbage on the line first, which the board must answer with ERROR and survive."""
    cfg = config()
    folder = Path(cfg["folder"])
    await start(dut, cfg)
    transport = SimTransport(dut, bit_cycles=cfg["divisor"],
                             corrupt={int(k): v for k, v in cfg.get("corrupt", {}).items()})
    if cfg.get("garbage"):
        await bridge(transport.write)(bytes.fromhex(cfg["garbage"]))
    model = load(folder / "model.json")
    ts = metrics.load_testset(folder / "testset.npz")
    timing = Timing(reply_s=cfg["reply_s"], quiet_s=cfg["quiet_s"], retries=3)
    rep = await bridge(run_testset)(transport, model, ts, timing=timing,
                                    progress=dut._log.info)
    (folder / "report.json").write_text(json.dumps({
        "ok": rep.ok, "beats": rep.beats, "steps": rep.steps, "resyncs": rep.resyncs,
        "mismatches": rep.mismatches[:20], "metric": rep.metric}))
    assert rep.ok, "\n".join(rep.mismatches[:10])


def _frames_until(transport, deframer, n, timeout):
    """Read until `n` frames came (or the line stays quiet for `timeout`)."""
    got = []
    while len(got) < n:
        data = transport.read(timeout)
        if not data:
            break
        got += deframer.feed(data)
    return got


@cocotb.test()
async def reload_over_uart(dut):
    """A reloadable board: each model's test set after `python -m hw load`'s own load of it
    (the first model: as built), every output beat against the reference of the model
    loaded; then a load with a corrupted LOAD frame, which must leave the board refusing to
    run (STEP answered with ERROR 7, even a COMMIT with the right CRC refused), then the first
    model loaded properly and its test set again."""
    from cocotb.utils import get_sim_time

    from hw.board import protocol as p
    from hw.board.load import load_prepared, prepare
    from hw.board.session import Session, load_frames
    from hw.errors import UserError

    cfg = config()
    folder, runs = Path(cfg["folder"]), [Path(r) for r in cfg["runs"]]
    built = Path(cfg["built"])
    await start(dut, cfg)
    transport = SimTransport(dut, bit_cycles=cfg["divisor"])
    timing = Timing(reply_s=cfg["reply_s"], quiet_s=cfg["quiet_s"], retries=3)
    ts = metrics.load_testset(folder / "testset.npz")
    report = {"ok": True, "phases": [], "loads": []}

    async def run(k):
        model = load(runs[k] / "model.json")
        rep = await bridge(run_testset)(transport, model, ts, timing=timing,
                                        progress=dut._log.info)
        report["phases"].append({"model": k, "ok": rep.ok, "beats": rep.beats,
                                 "steps": rep.steps, "sequences": rep.sequences,
                                 "mismatches": rep.mismatches[:10],
                                 "mismatch_count": len(rep.mismatches),
                                 "metric": rep.metric, "metric_value": rep.metric_value})
        report["ok"] &= rep.ok
        assert rep.ok, f"model {k}: " + "\n".join(rep.mismatches[:10])

    async def load_model(k):
        prep = prepare(runs[k], built)
        t0 = get_sim_time("ns")
        rep = await bridge(load_prepared)(transport, prep, timing=timing,
                                          progress=dut._log.info)
        report["loads"].append({"model": k, "frames": rep.frames, "bytes": rep.bytes,
                                "words": prep.words, "attempts": rep.attempts,
                                "sim_seconds": (get_sim_time("ns") - t0) * 1e-9})

    if cfg["run_first"]:
        await run(0)
    for k in range(1, len(runs)):
        await load_model(k)
        await run(k)
    if cfg["broken"]:
        prep = prepare(runs[0], built)

        def broken_load():
            session = Session(transport, timing=timing)
            link = session.info()
            frames, commit = load_frames(link, list(prep.image), prep.fingerprint)
            bad = bytearray(frames[2])
            bad[len(bad) // 2] ^= 0x10
            if bad[len(bad) // 2] in (p.END, p.ESC):  # keep the framing, spoil the CRC
                bad[len(bad) // 2] ^= 0x30
            deframer = p.Deframer()
            replies = []
            for fr in frames[:2] + [bytes(bad)] + frames[3:]:
                transport.write(fr)
                replies += _frames_until(transport, deframer, 1, timing.reply_s)
            step = link.encode_step(ts.sequence(0)[0], first=True, last=True)
            for fr in (commit, step):  # the right CRC, yet refused; then no model runs
                transport.write(fr)
                replies += _frames_until(transport, deframer, 1, timing.reply_s)
            info = session.info()
            return [t for t, _ in replies], info

        types, info = await bridge(broken_load)()
        n = len(types) - 2
        assert types[:n] == [p.T_ACK] * 2 + [p.T_ERROR | p.E_CRC] + [p.T_ACK] * (n - 3), types
        assert types[n:] == [p.T_ERROR | p.E_COMMIT, p.T_ERROR | p.E_NO_MODEL], types
        assert info.state == p.FAILED, info
        try:
            await bridge(run_testset)(transport, load(runs[0] / "model.json"), ts,
                                      timing=timing, progress=dut._log.info)
            raise AssertionError("a board that failed its load ran a test set")
        except UserError as e:
            assert "the board runs no model" in str(e), e
        report["broken"] = {"replies": types, "state": info.state}
        await load_model(0)
        await run(0)
    (folder / "report.json").write_text(json.dumps(report))
