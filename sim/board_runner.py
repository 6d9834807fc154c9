"""Build the board top's Verilog (BoardCore around the real ModelTop) and run sim/board_tb.py
on it with cocotb (Icarus by default). One folder per call; the folder holds everything.

`run_board_sim` runs one model's test set; `run_board_reload_sim` generates a reloadable
design for the first of several models (as `make verilog RELOADABLE=1` does, in a run folder
of its own) and has the board tests load the others into it over the simulated UART with
`python -m hw load`'s own code (hw.board.load), a broken load included."""

import json
from pathlib import Path

from amaranth.back import verilog
from cocotb_tools.runner import get_runner

from hw import metrics
from hw.board import protocol
from hw.board.core import BoardCore
from hw.gen.cli import generate_run
from hw.gen.options import GenerateOptions
from hw.gen.placement import Placement
from hw.gen.topplan import TopPlan, plan_for
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
    return _run(folder, cfg, "testset_over_uart", simulator)


def _run(folder: Path, cfg: dict, testcase: str, simulator: str) -> dict:
    (folder / "config.json").write_text(json.dumps(cfg))
    runner = get_runner(simulator)
    runner.build(sources=[folder / f"{TOPLEVEL}.v"], hdl_toplevel=TOPLEVEL,
                 build_dir=folder / "sim_build", always=True, timescale=("1ns", "1ps"),
                 build_args=ICARUS_ARGS if simulator == "icarus" else [])
    runner.test(hdl_toplevel=TOPLEVEL, test_module="sim.board_tb", testcase=testcase,
                build_dir=folder / "sim_build", test_dir=folder,
                extra_env={"BOARD_SIM_CONFIG": str(folder / "config.json")},
                timescale=("1ns", "1ps"))
    return json.loads((folder / "report.json").read_text())


def run_board_reload_sim(models, testset, folder, *, parallel=6, simd=1, clock_hz=4_000_000,
                         baud=1_000_000, fifo_depth=65, broken=True,
                         simulator="icarus", placement=None) -> dict:
    """The board top of a reloadable design generated for models[0] (the folder's run `m0`),
    the others in runs `m1`, ...: the cocotb test runs each model's test set after loading it
    (m0: as built, unless its memories are in SPRAM, which holds nothing until a load: then
    m0 is loaded first too), and with `broken` a load whose third LOAD frame is corrupted,
    which must leave the board refusing (then m0 is loaded properly and runs). `placement`:
    the design's (hw.gen.placement.Placement; default the iCEBreaker's). Returns its
    report."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    runs = []
    for k, m in enumerate(models):
        runs.append(folder / f"m{k}")
        runs[-1].mkdir(exist_ok=True)
        save(m, runs[-1] / "model.json")
    opts = GenerateOptions(parallel=parallel, simd=simd, reloadable=True, board="icebreaker")
    gen = generate_run(runs[0] / "model.json", opts, runs[0], say=lambda s: None,
                       placement=placement)
    preloaded = not gen.manifest.placement.get("huge")
    # a design with memories in SPRAM runs nothing before its first load: m0 is loaded too
    # (the report's phases and loads then count m0 as model 1, m1 as 2, and so on)
    return simulate_board_loads(runs[0], runs if preloaded else runs[:1] + runs, testset,
                                folder, run_first=preloaded, broken=broken,
                                clock_hz=clock_hz, baud=baud, fifo_depth=fifo_depth,
                                simulator=simulator)


def simulate_board_loads(built, runs, testset, folder, *, run_first: bool, broken: bool,
                         clock_hz=4_000_000, baud=1_000_000, fifo_depth: int | None = None,
                         simulator="icarus") -> dict:
    """The board top of the reloadable design in run folder `built` (its manifest, as make
    bitstream builds it: hw.board.bitstream) in the simulator; the cocotb test loads each
    of `runs` but the first (`run_first`: built's own model, as built, runs its test set
    first) with hw load's own code and runs `testset` after each load (board_tb.py's
    reload_over_uart). `fifo_depth`: default the board's of the manifest. Its report."""
    from hw.board.registry import board as find_board
    from hw.gen.design import check_run
    from hw.modelfile import load

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    built = Path(built)
    man = check_run(built)
    model = load(built / "model.json")
    core = plan_for(model, parallel=man.parallel, simd=man.simd, storage=man.storage,
                    order=man.order, placement=Placement.from_dict(man.placement),
                    head=tuple(man.head) if man.head else None, reloadable=True).create()
    if fifo_depth is None:
        fifo_depth = find_board(man.board).fifo_depth
    bit_time = 1 / baud
    top = BoardCore(core, emit=core.emit, fingerprint=protocol.fingerprint(model),
                    clock_hz=clock_hz, baud=baud, fifo_depth=fifo_depth,
                    timeout_s=40 * bit_time)
    (folder / f"{TOPLEVEL}.v").write_text(verilog.convert(top, name=TOPLEVEL, emit_src=False))
    metrics.save_testset(testset, folder / "testset.npz")
    # a reply may wait for a frame of the FIFO's size and a model step before it
    frame_s = 10 * bit_time * (2 * top.link.out_payload + 2 * fifo_depth + 8)
    cfg = {"folder": str(folder), "clock_hz": clock_hz, "divisor": top.divisor,
           "reply_s": 4 * frame_s + 4 * core.latency / clock_hz + 200 * bit_time,
           "quiet_s": 60 * bit_time, "runs": [str(Path(r).resolve()) for r in runs],
           "built": str(built.resolve()), "run_first": run_first, "broken": broken}
    return _run(folder, cfg, "reload_over_uart", simulator)
