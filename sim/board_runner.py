"""Build the board top's Verilog (BoardCore around the real ModelTop) and run sim/board_tb.py
on it with cocotb (Icarus by default). One folder per call; the folder holds everything."""

import json
from pathlib import Path

from amaranth.back import verilog
from cocotb_tools.runner import get_runner

from hw import metrics
from hw.board import protocol
from hw.board.core import BoardCore
from hw.gen.topplan import TopPlan
from hw.modelfile import save

TOPLEVEL = "board_top"
# Icarus in its default -g2012 mode runs declaration initialisers before any process starts,
# so the `always @*` blocks of yosys' Verilog never run at time 0 and their outputs stay X
# until an input changes; as Verilog-2005 the initialisers are events and the blocks run.
ICARUS_ARGS = ["-g2005"]


def run_board_sim(model, testset, folder, *, parallel=6, clock_hz=4_000_000, baud=1_000_000,
                  corrupt=None, garbage=b"", simulator="icarus") -> dict:
    """Simulate; returns the cocotb test's report (report.json). The runner fails the calling
    pytest test when the cocotb test fails."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    core = TopPlan.of(model, parallel=parallel).create()
    bit_time = 1 / baud
    top = BoardCore(core, emit=core.emit, fingerprint=protocol.fingerprint(model),
                    clock_hz=clock_hz, baud=baud, fifo_depth=65, timeout_s=40 * bit_time)
    (folder / f"{TOPLEVEL}.v").write_text(verilog.convert(top, name=TOPLEVEL, emit_src=False))
    save(model, folder / "model.json")
    metrics.save_testset(testset, folder / "testset.npz")
    # the host waits for a reply at most a few frames plus a model step long
    frame_s = 10 * bit_time * (2 * top.link.out_payload + 8 + 2 * top.link.step_payload)
    cfg = {"folder": str(folder), "clock_hz": clock_hz, "divisor": top.divisor,
           "reply_s": 4 * frame_s + 4 * core.latency / clock_hz + 200 * bit_time,
           "quiet_s": 60 * bit_time, "corrupt": corrupt or {}, "garbage": garbage.hex()}
    (folder / "config.json").write_text(json.dumps(cfg))
    runner = get_runner(simulator)
    runner.build(sources=[folder / f"{TOPLEVEL}.v"], hdl_toplevel=TOPLEVEL,
                 build_dir=folder / "sim_build", always=True, timescale=("1ns", "1ps"),
                 build_args=ICARUS_ARGS if simulator == "icarus" else [])
    runner.test(hdl_toplevel=TOPLEVEL, test_module="sim.board_tb",
                build_dir=folder / "sim_build", test_dir=folder,
                extra_env={"BOARD_SIM_CONFIG": str(folder / "config.json")},
                timescale=("1ns", "1ps"))
    return json.loads((folder / "report.json").read_text())
