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
