"""`python -m sim RUN [--simulator icarus|verilator] [--data PATH]`: simulate RUN/top.v on a
test set, bit for bit against the reference model, and write RUN/sim.json.

Exit status: 0 when every output beat matched, 1 on any mismatch or a failed simulation,
2 for bad input (one line, no traceback).
"""

from __future__ import annotations

import sys

from hw.cli import Parser, run

from .runner import SIMULATORS, SimulationFailed


def parser() -> Parser:
    p = Parser(prog="python -m sim", description=__doc__.splitlines()[0])
    p.add_argument("run", help="run folder with model.json, testset.npz and (else generated) "
                   "top.v and manifest.json")
    p.add_argument("--simulator", default="verilator",
                   help=f"one of {', '.join(SIMULATORS)} (default verilator, many times faster "
                        f"than icarus)")
    p.add_argument("--limit", type=int, metavar="N", help="simulate the first N sequences only")
    p.add_argument("--data", default=None, help="test set (default RUN/testset.npz)")
    p.add_argument("--parallel", default="auto",
                   help="lanes or 'unrolled', used only when top.v must be generated")
    p.add_argument("--waves", action="store_true",
                   help="record waveforms in RUN/sim_build/SIM (also WAVES=1)")
    return p


def options_from(args):
    from .simulate import SimOptions

    return SimOptions(simulator=args.simulator, data=args.data, limit=args.limit,
                      parallel=args.parallel, waves=args.waves)


def main(argv=None) -> int:
    args = parser().parse_args(argv)

    def body() -> int:
        from .simulate import simulate

        try:
            res = simulate(args.run, options_from(args))
        except SimulationFailed as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        out = res.report
        metric = ""
        if out["metric"]:
            rtl = "none" if out["rtl_metric"] is None else f"{out['rtl_metric']:.6f}"
            metric = f"; {out['metric']} RTL {rtl}, reference {out['reference_metric']:.6f}"
        print(f"{out['simulator']}: {out['sequences']} sequences, {out['steps']} steps, "
              f"{out['mismatches']} mismatches{metric}; {out['cycles_per_step']} cycles/step, "
              f"{out['sim_cycles_per_second']:.0f} simulated cycles/s; wrote "
              f"{args.run}/sim.json")
        if out["mismatches"]:
            print(f"first mismatch: {out['first_mismatch']}", file=sys.stderr)
            return 1
        return 0

    return run(body)


if __name__ == "__main__":
    sys.exit(main())
