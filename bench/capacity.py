"""The largest 1-layer GRU / LSTM (input 16) that fits a board and meets its clock, per scheme.

    .venv/bin/python -m bench.capacity --board icebreaker [--cells gru,lstm]
        [--schemes ternary,exponential,int8] [--parallel 1] [--storage registers|memory]
        [--clock-mhz 12] [--max-hidden 512]

Every probe is a full build of the board top (UART bridge + ModelTop of a random model from
hw.random_model, seed 0, 10 outputs, emit "last") with the YoWASP tools; a hidden size passes
when nextpnr places and routes it and its post-route Fmax reaches the clock. Search: double
from --start until a probe fails, then bisect down to --resolution units. Probes are kept in
bench/results/capacity-BOARD.json (rerunning resumes; --fresh ignores old probes) and the
Markdown table of docs/boards.md is printed at the end; "≥ N (cap)" means N = --max-hidden
passed, so the cap, not the board, was the limit.
"""

import argparse
import re
import signal
import sys
from pathlib import Path

from hw.board.probe import Records, bench_main, probe, source_version
from hw.board.registry import BOARDS
from hw.gen.placement import STORAGES
from hw.random_model import random_model

# the iCEBreaker's oscillator; on the ULX3S the PLL's 15 MHz (exact from 25 MHz, 1 Mbaud within
# 1%): its 25 MHz oscillator is above the Fmax of these designs there
CLOCK_MHZ = {"icebreaker": 12.0, "ulx3s": 15.0}
INPUTS, OUTPUTS = 16, 10


def model_for(cell: str, scheme: str, hidden: int, seed: int = 0):
    return random_model(cell=cell, scheme=scheme, input_size=INPUTS, hidden_size=hidden,
                        outputs=OUTPUTS, seed=seed, levels=3)


def search(records: Records, key: dict, *, start: int, limit: int, resolution: int,
           measure) -> tuple[dict | None, dict | None]:
    """(largest passing probe, smallest failing probe): from `start`, double while probes pass
    (halve while they fail), then bisect down to `resolution` units; never above `limit`."""
    def get(h):
        rec = records.find({**key, "hidden": h})
        if rec is None:
            rec = {**key, "hidden": h, **measure(h)}
            records.add(rec)
        return rec

    good = bad = None
    h = min(start, limit)
    while True:
        rec = get(h)
        if rec["ok"]:
            good = rec
            if bad is not None or h >= limit:
                break
            h = min(2 * h, limit)
        else:
            bad = rec
            if good is not None or h <= resolution:
                break
            h = max(resolution, h // 2 // resolution * resolution)
    if good is None or bad is None:
        return good, bad
    while bad["hidden"] - good["hidden"] > resolution:
        gap = bad["hidden"] - good["hidden"]
        mid = good["hidden"] + max(resolution, (gap // 2) // resolution * resolution)
        rec = get(mid)
        if rec["ok"]:
            good = rec
        else:
            bad = rec
    return good, bad


def why(rec: dict | None) -> str:
    if rec is None:
        return "not reached"
    if not rec["fits"]:
        m = re.search(r"needs (\d+) (\w+) of (\d+)", rec["error"])
        return f"does not fit ({m[1]}/{m[3]} {m[2]})" if m else rec["error"][:60]
    return f"Fmax {rec['fmax_mhz']:.1f} MHz"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True, choices=sorted(BOARDS))
    ap.add_argument("--cells", default="gru,lstm")
    ap.add_argument("--schemes", default="ternary,exponential,int8")
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--storage", default="registers", choices=STORAGES,
                    help="where ModelTop keeps state and results (default registers)")
    ap.add_argument("--clock-mhz", type=float, default=None)
    ap.add_argument("--start", type=int, default=16)
    ap.add_argument("--max-hidden", type=int, default=1024)
    ap.add_argument("--resolution", type=int, default=8)
    ap.add_argument("--results", default=None)
    ap.add_argument("--seed", type=int, default=0, help="random_model seed (default 0)")
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the tools too
    clock = args.clock_mhz or CLOCK_MHZ[args.board]
    path = Path(args.results or Path(__file__).parent / "results" / f"capacity-{args.board}.json")
    records = Records(path)
    if args.fresh:
        records.items = []
    version = source_version()
    rows = []
    for cell in args.cells.split(","):
        for scheme in args.schemes.split(","):
            key = {"board": args.board, "cell": cell, "scheme": scheme, "parallel": args.parallel,
                   "clock_mhz": clock, "inputs": INPUTS, "outputs": OUTPUTS,
                   "dsp_inference": True}
            if args.seed:  # older records (seed 0) carry no seed field
                key["seed"] = args.seed
            if args.storage != "registers":  # nor a storage field (registers)
                key["storage"] = args.storage

            def measure(h, cell=cell, scheme=scheme):
                print(f"== {args.board} {cell} {scheme} hidden {h}", flush=True)
                rec = probe(model_for(cell, scheme, h, args.seed), board=args.board,
                            parallel=args.parallel, clock_mhz=clock, storage=args.storage,
                            progress=lambda s: print("   " + s, flush=True))
                rec["version"] = version
                print(f"   -> {'ok' if rec['ok'] else 'FAIL'}: "
                      f"{why(rec) if rec['fits'] else rec['error']}", flush=True)
                return rec

            good, bad = search(records, key, start=args.start, limit=args.max_hidden,
                               resolution=args.resolution, measure=measure)
            rows.append((cell, scheme, good, bad))
    used = sorted({r.get("version", "?") for _, _, g, b in rows for r in (g, b) if r})
    print(f"\n{BOARDS[args.board].title}, clock {clock:g} MHz, parallel {args.parallel}, "
          f"storage {args.storage}, "
          f"input {INPUTS}, {OUTPUTS} outputs (probes of source {', '.join(used)}):\n")
    print("| cell | weights | largest hidden | LUTs | FFs | BRAM | DSP | Fmax MHz | cycles/step "
          "| us/step | next size tried |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for cell, scheme, g, b in rows:
        nxt = "-" if b is None else f"{b['hidden']}: {why(b)}"
        if g is None:
            print(f"| {cell} | {scheme} | none >= {args.resolution} | | | | | | | | {nxt} |")
            continue
        largest = f"≥ {g['hidden']} (cap)" if b is None else str(g["hidden"])
        print(f"| {cell} | {scheme} | {largest} | {g['lut']}/{g['lut_available']} | "
              f"{g['ff']} | {g['bram']}/{g['bram_available']} | {g['dsp']}/{g['dsp_available']} "
              f"| {g['fmax_mhz']:.1f} | {g['cycles_per_step']} | {g['us_per_step']:.1f} | "
              f"{nxt} |")
    return 0


if __name__ == "__main__":
    bench_main(main)
