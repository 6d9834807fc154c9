"""Accuracy against estimated hardware: for trained run folders, the test metric next to what
`--parallel auto` would build on a board. Nothing is built; the figures are hw.gen.fit's (exact
cycles, block RAMs and DSP blocks from the plan; LUTs from its calibrated estimate; steps/s at
the board's nominal clock). `make bitstream` is the check of a chosen folding.

    .venv/bin/python -m bench.fit_runs RUN [RUN ...] [--board ulx3s]

RUN is a folder with model.json (and train.json for the metric) or a model.json itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hw import modelfile
from hw.board.registry import BOARDS
from hw.errors import UserError
from hw.gen import fit
from hw.gen.topplan import TopPlan


def schemes_of(model: modelfile.Model) -> str:
    """The recurrent matrix's scheme, then the input matrix's and the head's where they
    differ: 'ternary' or 'ternary (input int8, head int8)'."""
    main = model.layers[0].w_hh.scheme
    edges = [("input", model.layers[0].w_ih)]
    if model.head is not None:
        edges.append(("head", model.head.weight))
    other = [f"{label} {m.scheme}" for label, m in edges if m.scheme != main]
    return main + (f" ({', '.join(other)})" if other else "")


def row(run: Path, device: fit.Device) -> dict:
    path = run / "model.json" if run.is_dir() else run
    if not path.is_file():
        raise UserError(f"{run}: no model.json there")
    model = modelfile.load(path)
    metric = None
    tj = path.parent / "train.json"
    if tj.is_file():
        try:
            t = json.loads(tj.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{tj} is not valid JSON: {e.msg} at line {e.lineno}") from None
        metric = (t.get("metric"), t.get("integer"))
    out = {"run": path.parent.name, "schemes": schemes_of(model),
           "weights": sum(m.codes.size for _, m in model.matrices()),
           "metric": metric}
    try:
        f = fit.estimate(TopPlan.auto(model, device, image=False), device)
    except ValueError as e:
        return {**out, "fits": False, "why": str(e)}
    return {**out, "fits": True, "parallel": f.parallel, "simd": f.simd, "order": f.order,
            "cycles_per_step": f.cycles_per_step, "luts": f.luts, "brams": f.brams,
            "dsps": f.dsps, "steps_per_s": round(f.steps_per_s)}


def table(rows: list[dict], device: fit.Device) -> str:
    lines = [f"| run | weights (schemes) | test metric (integer model) | folding P x S "
             f"| cycles/step | LUTs (est.) | BRAM | DSP | steps/s at {device.clock_mhz:g} MHz |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = "-" if not r["metric"] or r["metric"][1] is None else \
            f"{r['metric'][1]:.3f} {r['metric'][0]}"
        head = f"| {r['run']} | {r['weights']:,} ({r['schemes']}) | {m} |"
        if not r["fits"]:
            lines.append(f"{head} does not fit | | | | | |")
            continue
        lines.append(f"{head} {r['parallel']} x {r['simd']} ({r.get('order', 'rows')}) | "
                     f"{r['cycles_per_step']} | "
                     f"{r['luts']} of {device.luts} | {r['brams']} of {device.brams} | "
                     f"{r['dsps']} of {device.dsps} | {r['steps_per_s']:,} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--board", choices=sorted(n for n, b in BOARDS.items() if b.device),
                    default="ulx3s")
    a = ap.parse_args(argv)
    device = BOARDS[a.board].device
    try:
        rows = [row(r, device) for r in a.runs]
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{device.name}: the folding `--parallel auto` chooses (estimate, nothing built)")
    print(table(rows, device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
