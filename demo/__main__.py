"""`python -m demo` (`make demo`): the case for shift-and-add weights, on the embedded digits.

Trains a ternary GRU, an int8 GRU and a float GRU of the same size the same way, generates
each with its own folding for the iCEBreaker and builds its bitstream, simulates the ternary
RTL on the whole test set with cocotb bit for bit against the reference model, and writes
OUT/report.md and OUT/report.json (default OUT build/demo): accuracy, steps/s, LUT/BRAM/DSP
and weight memory side by side, and the ratio of ternary and int8 at the accuracy both reach.
Finished stages are kept: rerunning picks up where an interrupted demo stopped.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

from hw.cli import Parser, run
from hw.errors import UserError
from hw.fileio import atomic_write_text, writable_folder

from .runner import run_plan
from .stages import Settings, StageFailed, stages


def parser() -> Parser:
    p = Parser(prog="python -m demo", description=__doc__.splitlines()[0])
    d = Settings()
    p.add_argument("--out", default="build/demo", help="output folder (default build/demo)")
    p.add_argument("--cell", default=d.cell, help="rnn, gru (default) or lstm")
    p.add_argument("--quant", default=d.quant,
                   help="the shift-add model's weights (default ternary); int8 and float are "
                        "always trained next to it")
    p.add_argument("--hidden", type=int, default=d.hidden,
                   help=f"hidden units of all three models (default {d.hidden})")
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs of all three "
                   "(default: the trainer's for the task)")
    p.add_argument("--parallel", default=d.parallel,
                   help="engine lanes, a multiple of the cell's gate rows, or 'auto' (default: "
                        "each design's folding with the most steps/s that fits the board)")
    p.add_argument("--board", default=d.board, help="icebreaker (default) or ulx3s")
    p.add_argument("--simulator", default=d.simulator, help="verilator (default) or icarus")
    p.add_argument("--no-dsp", dest="dsp", action="store_false",
                   help="keep the bitstreams out of the DSP blocks (every product in LUTs)")
    p.add_argument("--clock-mhz", default=d.clock_mhz,
                   help="'auto' (default: build at the oscillator, then with the PLL at the "
                        "fastest clock the design meets), 'osc' (the board's oscillator) or "
                        "MHz; the same for all three designs")
    p.add_argument("--jobs", type=int, default=2,
                   help="stages run at once (default 2)")
    p.add_argument("--fresh", action="store_true", help="start over: delete OUT first")
    return p


def check_settings(out: Path, s: Settings, fresh: bool) -> None:
    """A demo folder built with other settings is started over (its stages would be stale)."""
    path = out / "settings.json"
    if fresh and out.exists():
        shutil.rmtree(out)
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if old != asdict(s):
            print(f"{out} was built with other settings: starting over", flush=True)
            shutil.rmtree(out)
    writable_folder(out, "--out folder")
    atomic_write_text(path, json.dumps(asdict(s), indent=1) + "\n")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return run(lambda: demo(args), interrupted=lambda: "demo interrupted: rerun it to go on "
                                                       "from the last finished stage")


def demo(args) -> int:
    from hw.gen.options import parse_parallel

    from . import report

    s = Settings(**{f.name: getattr(args, f.name) for f in fields(Settings) if f.name != "task"})
    out = Path(args.out)
    if args.jobs < 1:
        raise UserError(f"--jobs must be a positive integer, not {args.jobs}")
    s.parallel = str(parse_parallel(str(s.parallel), auto=True))
    commands: list[str] = []

    def write_report(log=None):
        rep = report.write(out, asdict(s), s.models(), commands)
        summary(rep, out)

    try:
        plan = stages(s, out, write_report)
        check_settings(out, s, args.fresh)
        commands += [c for st in plan for c in st.commands()]
        t_all = time.monotonic()
        run_plan(plan, out, args.jobs)
    except StageFailed as e:  # a stage's own error is on the terminal above: exit 1
        print(f"demo: {e}", file=sys.stderr)
        return 1
    print(f"demo finished in {time.monotonic() - t_all:.0f} s", flush=True)
    return 0


def summary(rep: dict, out: Path) -> None:
    q = rep["settings"]["quant"]
    for k, m in rep["models"].items():
        hw = (f"{m['lut']} LUTs, {m['bram']} BRAM, {m['dsp']} DSP, {m['steps_per_s']:,.0f} "
              f"steps/s at {m['clock_mhz']:g} MHz" if m["fits"] else
              f"does not fit: {m['error']}")
        print(f"{k:>8}: accuracy {m['accuracy']:.4f}, {m['weights']['bits']:,} weight bits, {hw}")
    eq = rep["equal_accuracy"]
    if eq is not None:
        print(f"at {100 * eq['level']:.2f} % (both reach it): {q} / int8 = "
              f"{eq['steps']['ratio']:.2f}x the steps/s, {eq['luts']['ratio']:.2f}x the LUTs")
    print(f"{q} RTL: {rep['rtl']['mismatches']} mismatches over {rep['rtl']['sequences']} "
          f"sequences")
    print(f"wrote {out / 'report.md'} and {out / 'report.json'}")


if __name__ == "__main__":
    sys.exit(main())
