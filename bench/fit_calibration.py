"""The fit's logic estimate against the logic cells real designs need, and the calibration a
least-squares fit of them gives (hw.gen.fit.estimate, the Device records in
hw/board/registry.py).

    .venv/bin/python -m bench.fit_calibration [--board icebreaker] [--jobs 2] [--fresh]
    .venv/bin/python -m bench.fit_calibration --check RUN_OR_EXPLORE_DIR ...

Each design is the board top (UART bridge + ModelTop) of a random model (hw.random_model,
seed 0, input 16, 10 outputs, emit "last" unless the row says "every") at a given folding, with
its memories placed as the generator places them (SPRAM where the block RAM does not hold the
codes; such a design is reloadable). It is synthesised with YoWASP yosys and packed by nextpnr
(`--pack-only`: the logic cells a design needs, the count a build that does not fit reports;
placement and routing add a few feedthrough cells at most). Records are kept in
results/fit-calibration-BOARD.json (rerunning resumes). At the end: each design's measured cells
beside the board's current estimate, and the least-squares calibration over them (a fixed part
per cell, per weight per cycle for shift and for multiplying lanes, per lane, per lane and row
shift beyond one a half (the finalizer's select), per exponential shifter times its shift
levels K, per reloadable design, per output of an every-step head, per SPRAM block), with its
residuals.

`--check` compares the board's current estimate with real builds instead: every run folder
given (or every trial folder of an explorer output folder) that holds model.json,
manifest.json and bitstream.json, its folding estimated against the logic cells its build
used; nothing is built.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench import RESULTS
from hw.board.build import pack
from hw.board.probe import Records, bench_main, source_version
from hw.board.registry import BOARDS
from hw.errors import UserError
from hw.gen import fit
from hw.gen.plan import uses_multipliers
from hw.gen.topplan import TopPlan
from hw.modelfile import GATES
from hw.random_model import random_model

INPUTS, OUTPUTS = 16, 10
FEATURES = ("fixed rnn", "fixed gru", "fixed lstm", "per shift weight/cycle",
            "per multiplying weight/cycle", "per lane", "per shifter and shift level",
            "per lane and extra row shift", "reloadable", "per every-step output",
            "per SPRAM block", "per shifter and shift level, reloadable",
            "per output byte", "streamed output")


def designs() -> list[dict]:
    """The calibration set: every cell with the shift-and-add engine at foldings from one unit's
    rows to 16-64 weights a cycle, exponential (shifters) and int8 (multiplying lanes) at a
    few, two hidden sizes, reloadable designs, heads that emit every step or stream their
    outputs, and designs with their codes in SPRAM."""
    out = []
    for cell, G in GATES.items():
        def add(scheme, hidden, k, S, cell=cell, G=G, **kw):
            out.append({"cell": cell, "scheme": scheme, "hidden": hidden, "parallel": k * G,
                        "simd": S, "order": kw.get("order", "rows"),
                        "reloadable": kw.get("reloadable", False),
                        "emit": kw.get("emit", "last"), "levels": kw.get("levels", 3),
                        "outputs": kw.get("outputs", OUTPUTS),
                        **({"output": kw["output"]} if "output" in kw else {})})
        for k, S in ((1, 1), (1, 4), (2, 2), (4, 1), (2, 8)):
            add("ternary", 16, k, S)
        for k, S in ((1, 1), (2, 1), (2, 4)):
            add("exponential", 16, k, S)
        for k, S in ((2, 1), (2, 4)):  # 7 levels: shifts of up to 7 places (trained models')
            add("exponential", 16, k, S, levels=7)
        for k, S in ((1, 1), (2, 1)):
            add("int8", 16, k, S)
        add("ternary", 32, 2, 2)
        add("ternary", 16, 2, 2, reloadable=True)
        add("ternary", 32, 1, 4, reloadable=True)
        add("ternary", 16, 2, 2, emit="every")
        add("ternary", 16, 2, 2, outputs=40)  # the output beat's registers, 4x as wide
        add("ternary", 16, 2, 2, emit="every", outputs=40)
        # the outputs streamed out of a memory (hw.gen.serial), 40 and 10 of them
        add("ternary", 16, 2, 2, outputs=40, output="serial")
        add("ternary", 16, 2, 2, emit="every", outputs=40, output="serial")
        add("ternary", 16, 1, 1, emit="every", outputs=10, output="serial")
    # codes in SPRAM (the block RAM does not hold them): reloadable, 1 to 3 blocks
    for cell, hidden, k, S in (("gru", 96, 1, 2), ("gru", 96, 1, 8), ("gru", 256, 1, 2),
                               ("lstm", 96, 1, 4), ("rnn", 256, 2, 4)):
        out.append({"cell": cell, "scheme": "ternary", "hidden": hidden,
                    "parallel": k * GATES[cell], "simd": S, "order": "rows",
                    "reloadable": True, "emit": "last", "levels": 3, "outputs": OUTPUTS})
    for cell, hidden, k, S, levels in (("gru", 96, 1, 2, 7), ("gru", 16, 1, 4, 3),
                                       ("lstm", 16, 1, 2, 7)):
        out.append({"cell": cell, "scheme": "exponential", "hidden": hidden,
                    "parallel": k * GATES[cell], "simd": S, "order": "rows",
                    "reloadable": True, "emit": "last", "levels": levels,
                    "outputs": OUTPUTS})
    return out


def model_of(d: dict):
    return random_model(cell=d["cell"], scheme=d["scheme"], input_size=INPUTS,
                        hidden_size=d["hidden"], outputs=d.get("outputs", OUTPUTS), seed=0,
                        levels=d.get("levels", 3),
                        emit=d["emit"])


def plan_of(d: dict, device: fit.Device) -> TopPlan:
    return TopPlan.of(model_of(d), parallel=d["parallel"], simd=d["simd"], order=d["order"],
                      placement=device.placement, image=False,
                      reloadable=d["reloadable"], output=d.get("output", "beat")).on(device)


def measure(d: dict, board: str) -> dict:
    """Pack the design `d`; its record (cells used, or the tool's one-line failure)."""
    b = BOARDS[board]
    tp = plan_of(d, b.device)
    with tempfile.TemporaryDirectory(prefix="shiftrnn-fitcal-") as tmp:
        try:
            use = pack(model_of(d), board=b, out_dir=Path(tmp) / "build",
                       parallel=d["parallel"], simd=d["simd"], order=d["order"],
                       placement=tp.placement,
                       reloadable=d["reloadable"] or bool(tp.huge_memories),
                       output=d.get("output", "beat"), progress=lambda *_: None)
        except UserError as e:
            return {**d, "error": str(e)}
    return {**d, "cells": use[b.lut_cell][0], "brams": use.get(b.bram_cell, (0, 0))[0],
            "dsps": use.get(b.dsp_cell, (0, 0))[0], "version": source_version()}


def features(rec: dict, device: fit.Device) -> tuple[list[float], float]:
    """The regression's features of a design, and the LUTs the estimate gives its memories
    in logic (not fitted: counted from their bits, as hw.gen.fit.estimate does)."""
    tp = plan_of(rec, device)
    P, S = tp.parallel, tp.simd
    mult = uses_multipliers(list(tp.passes))
    memory = fit.memory_luts(tp, device)
    reload = rec["reloadable"] or bool(tp.huge_memories)
    every = tp.out_count if rec["emit"] == "every" and not tp.serial else 0
    row = [float(rec["cell"] == c) for c in GATES]
    shifters, K = tp.resources["shifters"], tp.lanes.K
    row += [0 if mult else P * S, P * S if mult else 0, P, shifters * K,
            P * fit.extra_shifts(tp), float(reload), every,
            fit.estimate(tp, device).huge_blocks, shifters * K * reload,
            0 if tp.serial else fit.output_bytes(tp), float(tp.serial)]
    return row, memory


def calibrate(recs: list[dict], device: fit.Device) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients (FEATURES' order) and each design's residual (cells)."""
    X, y = [], []
    for r in recs:
        row, memory = features(r, device)
        X.append(row)
        y.append(r["cells"] - memory)
    X, y = np.array(X), np.array(y)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return coef, y - X @ coef


def run_folders(paths) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if (p / "trials").is_dir():
            out += sorted(d for d in (p / "trials").iterdir() if d.is_dir())
        else:
            out.append(p)
    return [d for d in out if all((d / f).is_file()
                                  for f in ("model.json", "manifest.json", "bitstream.json"))]


def check(paths, board: str) -> int:
    """The estimate of each built run's folding against its build's logic cells."""
    from hw.gen.manifest import load_manifest
    from hw.gen.placement import Placement
    from hw.modelfile import load

    device = BOARDS[board].device
    print("| run | model | (P, S) | cells built | estimate |\n|---|---|---|---|---|")
    errs = []
    for d in run_folders(paths):
        built = json.loads((d / "bitstream.json").read_text())
        if built.get("board") != board:
            continue
        man = load_manifest(d / "manifest.json")
        model = load(d / "model.json")
        tp = TopPlan.of(model, parallel=man.parallel, simd=man.simd, order=man.order,
                        placement=Placement.from_dict(man.placement), image=False,
                        head=tuple(man.head) if man.head else None,
                        reloadable=man.reload is not None)
        est = fit.estimate(tp, device).luts
        errs.append(est - built["lut"])
        print(f"| {d.name} | {model.cell} {model.layers[0].w_hh.scheme} {model.hidden_size} | "
              f"({man.parallel}, {man.simd}) | {built['lut']} | {est} ({est - built['lut']:+d}) |")
    if not errs:
        raise UserError(f"no built run (model.json, manifest.json, bitstream.json for the "
                        f"{board}) in {', '.join(map(str, paths))}")
    print(f"\n{len(errs)} builds: estimate minus built from {min(errs):+d} to {max(errs):+d} "
          f"logic cells, RMS {np.sqrt(np.mean(np.square(errs))):.0f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="icebreaker", choices=sorted(BOARDS))
    ap.add_argument("--jobs", type=int, default=2, help="designs packed at once (default 2)")
    ap.add_argument("--results", default=None)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--check", nargs="+", metavar="DIR",
                    help="compare the estimate with these built runs (or explorer folders)")
    args = ap.parse_args()
    if args.check:
        return check(args.check, args.board)
    device = BOARDS[args.board].device
    path = Path(args.results or RESULTS / f"fit-calibration-{args.board}.json")
    if args.fresh and path.exists():
        path.unlink()
    records = Records(path)
    todo = [d for d in designs() if records.find(d) is None]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futs = [pool.submit(measure, d, args.board) for d in todo]
        for f in tqdm(as_completed(futs), total=len(futs), desc="packing", unit="design"):
            records.add(f.result())
    done = [r for r in records.items if "cells" in r]
    print(f"{len(done)} designs packed on the {BOARDS[args.board].name} "
          f"(generator {', '.join(sorted({r['version'] for r in done}))}); "
          f"{sum('error' in r for r in records.items)} failed to pack")
    coef, res = calibrate(done, device)
    print("\n| design | (P, S) | cells | estimate now | calibrated |")
    print("|---|---|---|---|---|")
    for r, e in zip(done, res, strict=True):
        now = fit.estimate(plan_of(r, device), device).luts
        extra = ", reloadable" if r["reloadable"] else ""
        extra += ", emit every" if r["emit"] == "every" else ""
        print(f"| {r['cell']} {r['scheme']} {r['hidden']}{extra} | ({r['parallel']}, "
              f"{r['simd']}) | {r['cells']} | {now} ({now - r['cells']:+d}) | "
              f"{round(r['cells'] - e)} ({-e:+.0f}) |")
    print("\n| term | LUTs |\n|---|---|")
    for name, c in zip(FEATURES, coef, strict=True):
        print(f"| {name} | {c:.1f} |")
    print(f"\nresiduals: RMS {np.sqrt(np.mean(res ** 2)):.0f}, largest under-estimate "
          f"{res.max():.0f} cells, largest over-estimate {-res.min():.0f}")
    print(json.dumps({n: round(float(c), 1) for n, c in zip(FEATURES, coef, strict=True)}))
    return 0


if __name__ == "__main__":
    bench_main(main)
