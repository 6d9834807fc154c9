"""Reloadable weights (issue 30): what `hw load` sends and how long it takes, whether retrained
models fit the shape of the first, and (with --build) what the reloadable bitstream costs
against the fixed one.

    python -m bench.reload [--demo build/rl-demo-s1 build/rl-demo-s2 ...] [--board icebreaker]
        [--sim] [--build] [--clock-mhz 12]

Load bytes: the LOAD and COMMIT frames `hw load` sends (hw.board.session.load_frames, the
board's FIFO depth from its record), for the demo model (the first --demo run: a ternary GRU
16 of the digits task, as `python -m demo` trains it; its reloadable design at --parallel
auto for the board) and for a ternary GRU 256 (input 16, 10 outputs, random weights: the bytes
do not depend on them) at the board's --parallel auto folding (or where nothing fits the
board, at 3 lanes of one column), and on a board with SPRAM (the iCEBreaker) also at the folding
with the fewest LUTs, bench.capacity's (`gru256_smallest`: auto's fastest SPRAM design does not
fit the iCEBreaker's logic, docs/boards.md). The line time is the bytes at 10 bits
a byte at the baud, plus the two INFO exchanges around the load; `--sim` measures the demo
model's load in the board-level simulation (sim/board_runner.py: the board top in Icarus,
loaded over its simulated UART by hw load's own code), in simulated seconds.

Fit: each further --demo run (a retrained model: another seed) planned in the first's shape
(TopPlan.in_shape): fits, or the one-line refusal.

--build: the fixed and the reloadable design of the demo model built for the board
(hw.board.build, one build each at --clock-mhz), LUT, BRAM, DSP and nextpnr's Fmax, and the
reloadable / fixed ratios; without --build the record keeps the builds it had, with their
commit (`build.source`). Records go to results/reload-BOARD.json.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from bench import RESULTS
from hw.board import protocol as p
from hw.board.registry import BOARDS
from hw.board.session import MemoryImage, load_frames
from hw.cell import UNIT_ROWS
from hw.cli import Parser, run
from hw.fileio import atomic_write_text
from hw.gen.loadport import ShapeMismatch
from hw.gen.topplan import TopPlan
from hw.modelfile import load
from hw.random_model import random_model

INFO_EXCHANGE = 4 + 2 + p.INFO_PAYLOAD_BYTES + 2  # INFO_REQ, then INFO (no escapes counted)


def reloadable_plan(model, board: str) -> tuple[TopPlan, str]:
    device = BOARDS[board].calibrated()
    try:
        return TopPlan.auto(model, device, reloadable=True), "--parallel auto"
    except ValueError:
        G = len(UNIT_ROWS[model.cell])
        return (TopPlan.of(model, parallel=G, simd=1, placement=device.placement,
                           reloadable=True),
                f"{G} lanes x 1 column: no folding fits the board")


def load_figures(tp: TopPlan, board: str, baud: int) -> dict:
    b = BOARDS[board]
    link = p.Link(1, 1, 1, 1, 0, tp.emit, 0, b.fifo_depth, 0, shape=tp.shape.fingerprint)
    image = [MemoryImage(k, w, tuple(words)) for k, (_, w, words) in
             enumerate(tp.load_image())]
    frames, commit = load_frames(link, image, 1)
    sent = sum(map(len, frames)) + len(commit)
    bits = sum(lm.width * lm.depth for lm in tp.load_memories())
    return {"words": sum(len(im.words) for im in image), "memory_bits": bits,
            "frames": len(frames), "bytes": sent,
            "line_s": round((sent + 2 * INFO_EXCHANGE) * 10 / baud, 4),
            "folding": f"{tp.parallel} x {tp.simd}", "shape": f"{tp.shape.fingerprint:08x}"}


def sim_load(model, other, folder: Path, tp: TopPlan) -> dict:
    """The demo model's design in the board-level simulation; `other` loaded into it."""
    from hw import metrics
    from sim.board_runner import run_board_reload_sim
    from sim.test_board_top import make_testset

    ts = make_testset(model, n=2, seed=0)
    ts = metrics.TestSet(ts.x, ts.lengths, ts.y % max(2, model.head.weight.shape[0]))
    rep = run_board_reload_sim([model, other], ts, folder, parallel=tp.parallel, simd=tp.simd,
                               fifo_depth=BOARDS["icebreaker"].fifo_depth, broken=False)
    return rep["loads"][0] | {"ok": rep["ok"]}


def build_pair(model, board: str, clock_mhz: float, out: Path) -> dict:
    from hw.board.build import build

    b = BOARDS[board]
    fixed = TopPlan.auto(model, b.calibrated())
    rows = {}
    for name, rel in (("fixed", False), ("reloadable", True)):
        t0 = time.monotonic()
        res = build(model, board=b, parallel=fixed.parallel, simd=fixed.simd,
                    order=fixed.order, placement=fixed.placement, clock_hz=clock_mhz * 1e6,
                    baud=1_000_000, out_dir=out / f"build-{name}", reloadable=rel,
                    progress=print)
        rows[name] = {"lut": res.lut, "ff": res.ff, "bram": res.bram, "dsp": res.dsp,
                      "fmax_mhz": res.fmax_mhz, "clock_mhz": res.clock_mhz,
                      "cycles_per_step": res.cycles_per_step,
                      "seconds": round(time.monotonic() - t0)}
    f, r = rows["fixed"], rows["reloadable"]
    rows["ratio"] = {k: round(r[k] / f[k], 3) if f[k] else None
                     for k in ("lut", "ff", "bram", "fmax_mhz")}
    return rows


def main(argv=None) -> int:
    ap = Parser(prog="python -m bench.reload", description=__doc__.splitlines()[0])
    ap.add_argument("--demo", nargs="+", required=True, metavar="RUN",
                    help="run folders of the demo model (model.json), the first the design's")
    ap.add_argument("--board", default="icebreaker", choices=sorted(BOARDS))
    ap.add_argument("--baud", type=int, default=1_000_000)
    ap.add_argument("--sim", action="store_true", help="measure the demo load in simulation")
    ap.add_argument("--build", action="store_true", help="build fixed and reloadable")
    ap.add_argument("--clock-mhz", type=float, default=12.0)
    ap.add_argument("--out", default="build/bench-reload")
    args = ap.parse_args(argv)
    return run(lambda: report(args))


def report(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    demo = [load(Path(r) / "model.json") for r in args.demo]
    tp, how = reloadable_plan(demo[0], args.board)
    g256 = random_model(cell="gru", scheme="ternary", input_size=16, hidden_size=256,
                        outputs=10, seed=0)
    tp256, how256 = reloadable_plan(g256, args.board)
    rec = {"source": src, "board": args.board, "baud": args.baud,
           "demo": load_figures(tp, args.board, args.baud) | {"how": how},
           "gru256": load_figures(tp256, args.board, args.baud) | {"how": how256},
           "fits": []}
    if BOARDS[args.board].device.placement.huge_blocks:
        # where auto's fastest design uses SPRAM: also the folding bench.capacity builds
        # (the fewest LUTs; docs/boards.md, Capacity)
        small = TopPlan.auto(g256, BOARDS[args.board].calibrated(), reloadable=True,
                             goal="smallest")
        rec["gru256_smallest"] = load_figures(small, args.board, args.baud) | {
            "how": "TopPlan.auto goal smallest (bench.capacity's)"}
    for r, m in zip(args.demo[1:], demo[1:], strict=True):
        try:
            TopPlan.in_shape(m, tp.shape)
            rec["fits"].append({"run": r, "fits": True, "why": ""})
        except (ShapeMismatch, ValueError) as e:
            rec["fits"].append({"run": r, "fits": False, "why": str(e)})
    if args.sim and len(demo) > 1 and rec["fits"][0]["fits"]:
        rec["demo"]["sim"] = sim_load(demo[0], demo[1], out / "sim", tp)
    path = RESULTS / f"reload-{args.board}.json"
    if args.build:
        rec["build"] = build_pair(demo[0], args.board, args.clock_mhz, out)
    elif path.is_file() and "build" in json.loads(path.read_text()):
        old = json.loads(path.read_text())  # the builds measured before, with their commit
        rec["build"] = old["build"] | {"source": old["build"].get("source", old["source"])}
    atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
    d, g = rec["demo"], rec["gru256"]
    print(f"{args.board}, {args.baud} baud, source {src}")
    print("| model | folding | words | memory bits | LOAD frames | bytes sent | line time |")
    print("|---|---|---|---|---|---|---|")
    rows = [("demo GRU 16 (ternary, digits)", d), ("ternary GRU 256, input 16", g)]
    if "gru256_smallest" in rec:
        rows.append(("ternary GRU 256, input 16", rec["gru256_smallest"]))
    for name, x in rows:
        print(f"| {name} | {x['folding']} ({x['how']}) | {x['words']} | {x['memory_bits']} | "
              f"{x['frames']} | {x['bytes']} | {x['line_s'] * 1e3:.1f} ms |")
    if "sim" in d:
        s = d["sim"]
        print(f"demo load in the board-level simulation: {s['bytes']} bytes in "
              f"{s['sim_seconds'] * 1e3:.1f} ms simulated ({s['frames']} frames, the board's "
              f"FIFO {BOARDS['icebreaker'].fifo_depth} bytes), test sets exact: {s['ok']}")
    for f in rec["fits"]:
        print(f"{f['run']} in {args.demo[0]}'s shape: "
              f"{'fits' if f['fits'] else 'refused: ' + f['why']}")
    if "build" in rec:
        b = rec["build"]
        print(f"builds of source {b.get('source', src)}:")
        print("| design | LUT | FF | BRAM | DSP | Fmax MHz | cycles/step |")
        print("|---|---|---|---|---|---|---|")
        for k in ("fixed", "reloadable"):
            x = b[k]
            print(f"| {k} | {x['lut']} | {x['ff']} | {x['bram']} | {x['dsp']} | "
                  f"{x['fmax_mhz']:.1f} | {x['cycles_per_step']} |")
        print("reloadable / fixed: " + ", ".join(f"{k} {v}" for k, v in b["ratio"].items()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
