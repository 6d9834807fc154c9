"""Shift-and-add weights (ternary, exponential) against the int8 multiplier baseline on a board.

    .venv/bin/python -m bench.shift_vs_int8 [--board ulx3s] [--cell gru] [--hidden 16]
        [--parallel 4[,16,...]|unrolled] [--dsp both|on|off] [--storage registers|memory]

One model shape (random_model, input 16, 10 outputs, seed 0), the same engine parallelism P for
every scheme, each built as the whole board top (UART bridge included) with the YoWASP tools
at the board's oscillator clock, twice: with DSP inference off (all arithmetic in logic) and on
(yosys may put multipliers in DSP blocks). Ratios are against int8 at the same DSP setting.
Several parallelisms run one after another. Probes are kept per board and P in
results/shift-vs-int8-BOARD-pP[-memory].json (a rerun reuses them; --fresh rebuilds). The
Markdown tables of docs/boards.md are printed at the end.
"""

import argparse
import signal
import sys
from pathlib import Path

from bench import RESULTS
from hw.board.build import used_classic_abc
from hw.board.probe import Records, bench_main, probe, source_version
from hw.board.registry import BOARDS
from hw.gen.options import UNROLLED, parse_parallel
from hw.gen.placement import STORAGES
from hw.gen.topplan import TopPlan
from hw.gen.unrolled_top import UnrolledPlan
from hw.random_model import random_model

SCHEMES = ("ternary", "exponential", "int8")
INPUTS, OUTPUTS = 16, 10
TARGET = 0.60  # ternary LUTs at most this fraction of int8's, DSP inference off


def ratio(a, b) -> str:
    return f"{a / b:.2f}" if b else "-"


def parse_list(text: str) -> list:
    return [parse_parallel(t) for t in text.split(",")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="ulx3s", choices=sorted(BOARDS))
    ap.add_argument("--cell", default="gru", choices=("rnn", "gru", "lstm"))
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--parallel", type=parse_list, default=[4], metavar="P[,P...]|unrolled")
    ap.add_argument("--dsp", default="both", choices=("both", "on", "off"))
    ap.add_argument("--storage", default="registers", choices=STORAGES,
                    help="where ModelTop keeps state and results (default registers)")
    ap.add_argument("--results", default=None, help="one JSON file for every P given")
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the tools too
    settings = {"both": (False, True), "on": (True,), "off": (False,)}[args.dsp]
    tables, summary = [], []
    for parallel in args.parallel:
        path = Path(args.results or RESULTS /
                    f"shift-vs-int8-{args.board}-p{parallel}"
                    f"{'-memory' if args.storage == 'memory' else ''}.json")
        records = Records(path)
        if args.fresh:
            records.items = []
        got = measure(args, parallel, settings, records)
        # a scheme that needed the classic-ABC fallback is compared with the others mapped
        # the same way: build those again with classic ABC (the ABC9 rows are still shown)
        extra = {}
        for dsp in settings:
            if len({mapping(got[dsp, s]) for s in SCHEMES if got[dsp, s]["fits"]}) > 1:
                redo = [s for s in SCHEMES if mapping(got[dsp, s]) == "ABC9"]
                extra.update({(dsp, s): got[dsp, s] for s in redo})
                got.update(measure(args, parallel, (dsp,), records, redo, classic=True))
        tables.append(table(args, parallel, settings, got, extra))
        if False in settings and got[False, "ternary"]["fits"] and got[False, "int8"]["fits"]:
            q = got[False, "ternary"]["lut"] / got[False, "int8"]["lut"]
            verdict = "met" if q <= TARGET else "missed"
            if mapping(got[False, "ternary"]) != mapping(got[False, "int8"]):
                verdict = (f"not comparable: ternary {mapping(got[False, 'ternary'])}, int8 "
                           f"{mapping(got[False, 'int8'])} LUT mapping")
            summary.append(f"P = {parallel}: ternary / int8 LUTs with DSP inference off, "
                           f"{mapping(got[False, 'int8'])} mapping: {q:.2f} "
                           f"(target <= {TARGET:.2f}: {verdict})")
    print("\n\n".join(tables))
    print("\n" + "\n".join(summary))
    return 0


def mapping(rec) -> str:
    """The LUT mapping a build used: yosys' default ABC9, or the classic ABC fallback that
    hw/board/build.py takes when ABC9 fails (less timing-driven, often more LUTs)."""
    return "classic ABC" if used_classic_abc(rec.get("synth_opts", "")) else "ABC9"


def resources(model, parallel, storage: str) -> dict:
    """The top's resources as its plan publishes them, without building the top."""
    if parallel != UNROLLED:
        return TopPlan.of(model, parallel=parallel, storage=storage).resources
    return UnrolledPlan.of(model).resources


def measure(args, parallel, settings, records, schemes=SCHEMES, classic=False) -> dict:
    board = BOARDS[args.board]
    clock = board.osc_hz / 1e6
    version = source_version()
    got = {}
    for dsp in settings:
        for scheme in schemes:
            key = {"board": args.board, "cell": args.cell, "scheme": scheme,
                   "hidden": args.hidden, "inputs": INPUTS, "outputs": OUTPUTS,
                   "parallel": parallel, "clock_mhz": clock, "dsp_inference": dsp,
                   "classic_abc": classic}
            if args.storage != "registers":  # older records carry no storage field
                key["storage"] = args.storage
            rec = records.find(key)
            if rec is None:
                print(f"== {args.board} {args.cell} {scheme} hidden {args.hidden} "
                      f"P {parallel} dsp {'on' if dsp else 'off'}"
                      f"{' classic ABC' if classic else ''}", flush=True)
                model = random_model(cell=args.cell, scheme=scheme, input_size=INPUTS,
                                     hidden_size=args.hidden, outputs=OUTPUTS, seed=0,
                                     levels=3)
                rec = {**key, **probe(model, board=args.board, parallel=parallel,
                                      clock_mhz=clock, dsp=dsp, classic_abc=classic,
                                      storage=args.storage,
                                      progress=lambda s: print("   " + s, flush=True))}
                res = resources(model, parallel, args.storage)
                rec["weight_multipliers"] = res.get("multipliers", 0)
                rec["elementwise_multipliers"] = res.get("elementwise_multipliers", 0)
                rec["finalizers"] = res.get("finalizers")
                rec["version"] = version
                records.add(rec)
                print(f"   -> {'fits' if rec['fits'] else rec['error']}", flush=True)
            got[dsp, scheme] = rec
    return got


def table(args, parallel, settings, got, extra) -> str:
    board = BOARDS[args.board]
    clock = board.osc_hz / 1e6
    lines = [f"{board.title}: {args.cell.upper()} input {INPUTS}, hidden {args.hidden}, "
             f"{OUTPUTS} outputs, P = {parallel} lanes, storage {args.storage}, clock "
             f"{clock:g} MHz, whole board "
             f"top (probes of source {', '.join(sorted({r['version'] for r in got.values()}))})."
             f" Ratios: scheme / int8 at the same DSP setting.", "",
             "| DSP inference | weights | LUTs | FFs | DSP | BRAM | Fmax MHz | cycles/step | "
             "weight mults (generator) | LUT mapping | LUT ratio | FF ratio | DSP ratio | "
             "Fmax ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = [(dsp, scheme, got[dsp, scheme]) for dsp in settings for scheme in SCHEMES]
    rows += [(dsp, scheme, r) for (dsp, scheme), r in extra.items()]
    for dsp, scheme, r in rows:
        base = got[dsp, "int8"]
        on = "on" if dsp else "off"
        if not r["fits"]:
            lines.append(f"| {on} | {scheme} | {r['error']} | | | | | | | | | | | |")
            continue
        ok = base["fits"] and mapping(base) == mapping(r)  # like for like only
        lines.append(
            f"| {on} | {scheme} | {r['lut']} | {r['ff']} | {r['dsp']} | {r['bram']} | "
            f"{r['fmax_mhz']:.1f} | {r.get('cycles_per_step', '?')} | "
            f"{r.get('weight_multipliers', '?')} | {mapping(r)} | "
            f"{ratio(r['lut'], base['lut']) if ok else '-'} | "
            f"{ratio(r['ff'], base['ff']) if ok else '-'} | "
            f"{ratio(r['dsp'], base['dsp']) if ok else '-'} | "
            f"{ratio(r['fmax_mhz'], base['fmax_mhz']) if ok else '-'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    bench_main(main)
