"""The largest 1-layer GRU / LSTM (input 16) that fits a board and meets its clock, per scheme.

    .venv/bin/python -m bench.capacity --board icebreaker [--cells gru,lstm]
        [--schemes ternary,exponential,int8] [--folding smallest|fastest]
        [--storage memory|registers] [--clock-mhz 12] [--max-hidden 512]
        [--probe-minutes M]

Every probe is a full build of the board top (UART bridge + ModelTop of a random model from
hw.random_model, seed 0, 10 outputs, emit "last") with the YoWASP tools, at the folding
`TopPlan.auto` finds for it on the board (`--folding smallest`, the default: the fitting
design with the fewest LUTs, so the memory decides the size; `fastest`: what `--parallel
auto` builds), its memories placed as the generator places them (the iCE40UP5K's SPRAM where
block RAM does not hold the codes). A hidden size passes when nextpnr places and routes it
and its post-route Fmax reaches the clock; a size for which the fit finds no folding is
recorded as rejected by the fit, without a build ("fit: ..."). Search: the largest size the
fit accepts (a bisection on the fit alone, no build) is probed first, then upwards while
probes pass and downwards while they fail, to --resolution units. Probes are kept in
results/capacity-BOARD-STORAGE-FOLDING.json (rerunning resumes; --fresh ignores old probes)
and the Markdown table of docs/boards.md is printed at the end; "≥ N (cap)" means N = --max-hidden
passed, so the cap, not the board, was the limit. `--probe-minutes M`: a build still running
after M minutes is stopped and that size counts as failed ("not routed in M min"; a rerun
with a longer limit, or none, measures it again).
"""

import argparse
import re
import signal
import sys
from pathlib import Path

from bench import RESULTS
from hw.board.probe import Records, bench_main, probe, source_version
from hw.board.registry import BOARDS
from hw.errors import UserError
from hw.gen.placement import HUGE_DEPTH, HUGE_WIDTH, STORAGES
from hw.gen.topplan import GOALS, TopPlan
from hw.modelfile import GATES
from hw.random_model import random_model

# each board's oscillator: no PLL in the question of what fits
CLOCK_MHZ = {"icebreaker": 12.0, "ulx3s": 25.0}
INPUTS, OUTPUTS = 16, 10


def model_for(cell: str, scheme: str, hidden: int, seed: int = 0):
    return random_model(cell=cell, scheme=scheme, input_size=INPUTS, hidden_size=hidden,
                        outputs=OUTPUTS, seed=seed, levels=3)


def search(records: Records, key: dict, *, start: int, limit: int, resolution: int,
           measure, limit_s: float | None = None) -> tuple[dict | None, dict | None]:
    """(largest passing probe, smallest failing probe): from `start`, up by `resolution`
    while probes pass, down while they fail; never above `limit`. A kept probe that ran out
    of a shorter time limit than `limit_s` (None: no limit) is measured again."""
    def get(h):
        rec = records.find({**key, "hidden": h})
        if rec is not None and rec.get("timed_out") and (
                limit_s is None or rec["limit_s"] < limit_s):
            records.items.remove(rec)
            rec = None
        if rec is None:
            rec = {**key, "hidden": h, **measure(h)}
            records.add(rec)
        return rec

    good = bad = None
    h = max(resolution, min(start, limit) // resolution * resolution)
    while True:
        rec = get(h)
        if rec["ok"]:
            good = rec
            if bad is not None or h + resolution > limit:
                break
            h += resolution
        else:
            bad = rec
            if good is not None or h <= resolution:
                break
            h -= resolution
    return good, bad


def fit_limit(fits, *, limit: int, resolution: int) -> int:
    """The largest multiple of `resolution` up to `limit` for which `fits(h)` (the fit's
    verdict, monotone in h), or `resolution` when none."""
    lo, hi = 0, limit // resolution + 1  # fits(lo * res) assumed, fits(hi * res) not
    if fits(limit // resolution * resolution):
        return limit // resolution * resolution
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid * resolution):
            lo = mid
        else:
            hi = mid
    return max(resolution, lo * resolution)


def memory_bound(cell: str, scheme: str, board: str) -> int:
    """A hidden size no design of the board holds: its layer's codes alone (gate rows x
    hidden x (input + hidden) x code bits) exceed all its block RAM and SPRAM bits. Bounds
    the fit's bisection, whose sizes near the top each cost a whole search."""
    dev = BOARDS[board].device
    bits = (dev.brams_for_design * max(w * d for w, d in dev.bram_shapes)
            + dev.placement.huge_blocks * HUGE_WIDTH * HUGE_DEPTH)
    small = TopPlan.of(model_for(cell, scheme, 8), parallel=GATES[cell], image=False)
    h = 1
    while GATES[cell] * h * (h + INPUTS) * small.lanes.code_bits <= bits:
        h += 1
    return h


def folding(model, board: str, storage: str, goal: str):
    """TopPlan.auto's design for the model on the board, or the fit's reason for none."""
    try:
        return TopPlan.auto(model, BOARDS[board].device, storage=storage, image=False,
                            goal=goal)
    except ValueError as e:
        return str(e)


def why(rec: dict | None) -> str:
    if rec is None:
        return "not reached"
    if rec.get("timed_out"):
        return f"not routed in {rec['limit_s'] / 60:g} min"
    if not rec["fits"]:
        if rec["error"].startswith("fit: "):
            return "rejected by the fit (no folding fits)"
        m = re.search(r"needs (\d+) (\w+) of (\d+)", rec["error"])
        return f"does not fit ({m[1]}/{m[3]} {m[2]})" if m else rec["error"][:60]
    return f"Fmax {rec['fmax_mhz']:.1f} MHz"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True, choices=sorted(BOARDS))
    ap.add_argument("--cells", default="gru,lstm")
    ap.add_argument("--schemes", default="ternary,exponential,int8")
    ap.add_argument("--folding", default="smallest", choices=GOALS,
                    help="TopPlan.auto's goal (default smallest: the fewest LUTs that fit)")
    ap.add_argument("--storage", default="memory", choices=STORAGES,
                    help="where ModelTop keeps state and results (default memory)")
    ap.add_argument("--clock-mhz", type=float, default=None)
    ap.add_argument("--max-hidden", type=int, default=1024)
    ap.add_argument("--resolution", type=int, default=8)
    ap.add_argument("--results", default=None)
    ap.add_argument("--seed", type=int, default=0, help="random_model seed (default 0)")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--probe-minutes", type=float, default=None,
                    help="stop a probe's build after this long and count it as failed "
                         "(not routed in that time; default: no limit)")
    args = ap.parse_args()
    if args.probe_minutes is not None and args.probe_minutes <= 0:
        raise UserError(f"--probe-minutes must be positive, not {args.probe_minutes:g}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the tools too
    clock = args.clock_mhz or CLOCK_MHZ[args.board]
    path = Path(args.results or RESULTS /
                f"capacity-{args.board}-{args.storage}-{args.folding}.json")
    records = Records(path)
    if args.fresh:
        records.items = []
    version = source_version()
    limit_s = None if args.probe_minutes is None else 60 * args.probe_minutes
    rows = []
    for cell in args.cells.split(","):
        for scheme in args.schemes.split(","):
            key = {"board": args.board, "cell": cell, "scheme": scheme,
                   "folding": args.folding, "storage": args.storage, "clock_mhz": clock,
                   "inputs": INPUTS, "outputs": OUTPUTS, "seed": args.seed,
                   "dsp_inference": True}

            def design(h, cell=cell, scheme=scheme):
                return folding(model_for(cell, scheme, h, args.seed), args.board,
                               args.storage, args.folding)

            def measure(h, cell=cell, scheme=scheme):
                print(f"== {args.board} {cell} {scheme} hidden {h}", flush=True)
                tp = design(h)
                if isinstance(tp, str):
                    print(f"   -> rejected by the fit: {tp}", flush=True)
                    return {"fits": False, "error": f"fit: {tp}", "ok": False,
                            "version": version}
                rec = probe(model_for(cell, scheme, h, args.seed), board=args.board,
                            parallel=tp.parallel, simd=tp.simd, order=tp.order,
                            placement=tp.placement, head=tp.head_folding, clock_mhz=clock,
                            storage=args.storage, reloadable=tp.shape is not None,
                            limit_s=limit_s,
                            progress=lambda s: print("   " + s, flush=True))
                rec.update(version=version, huge_memories=list(tp.placement.huge),
                           reloadable=tp.shape is not None)
                print(f"   -> {'ok' if rec['ok'] else 'FAIL'}: "
                      f"{why(rec) if rec['fits'] else rec['error']}", flush=True)
                return rec

            top = min(args.max_hidden, -(-memory_bound(cell, scheme, args.board)
                                          // args.resolution) * args.resolution)
            start = fit_limit(lambda h: not isinstance(design(h), str), limit=top,
                              resolution=args.resolution)
            print(f"== {args.board} {cell} {scheme}: the fit's largest is {start}", flush=True)
            good, bad = search(records, key, start=start, limit=args.max_hidden,
                               resolution=args.resolution, measure=measure,
                               limit_s=limit_s)
            rows.append((cell, scheme, good, bad))
    used = sorted({r.get("version", "?") for _, _, g, b in rows for r in (g, b) if r})
    print(f"\n{BOARDS[args.board].title}, clock {clock:g} MHz, folding {args.folding}, "
          f"storage {args.storage}, input {INPUTS}, {OUTPUTS} outputs (probes of source "
          f"{', '.join(used)}):\n")
    print("| cell | weights | largest hidden | P x S, walk | SPRAM | LUTs | FFs | BRAM | DSP "
          "| Fmax MHz | cycles/step | us/step | next size tried |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for cell, scheme, g, b in rows:
        nxt = "-" if b is None else f"{b['hidden']}: {why(b)}"
        if g is None:
            print(f"| {cell} | {scheme} | none >= {args.resolution} | | | | | | | | | | "
                  f"{nxt} |")
            continue
        largest = f"≥ {g['hidden']} (cap)" if b is None else str(g["hidden"])
        huge = f"{g.get('huge', 0)} ({', '.join(g.get('huge_memories', []))})" \
            if g.get("huge") else "0"
        print(f"| {cell} | {scheme} | {largest} | {g['parallel']} x {g['simd']}, "
              f"{g['order']} | {huge} | {g['lut']}/{g['lut_available']} | {g['ff']} | "
              f"{g['bram']}/{g['bram_available']} | {g['dsp']}/{g['dsp_available']} | "
              f"{g['fmax_mhz']:.1f} | {g['cycles_per_step']} | {g['us_per_step']:.1f} | "
              f"{nxt} |")
    return 0


if __name__ == "__main__":
    bench_main(main)
