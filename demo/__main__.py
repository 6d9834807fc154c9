"""`python -m demo` (`make demo`): the whole pipeline on the embedded digits task.

Trains a hardware-mode ternary GRU (after a float baseline), exports it, generates Verilog,
simulates the RTL on the whole test set with cocotb bit for bit against the reference model,
builds the iCEBreaker bitstream, builds the same model with int8 weights the same way as the
multiplier baseline, and writes OUT/report.md and OUT/report.json (default OUT build/demo).
Finished stages are kept: rerunning picks up where an interrupted demo stopped.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, fields
from pathlib import Path

from hw.cli import Parser, run
from hw.errors import UserError
from hw.fileio import atomic_write_text, writable_folder

from .stages import Settings, Stage, StageFailed, stages


def parser() -> Parser:
    p = Parser(prog="python -m demo", description=__doc__.splitlines()[0])
    d = Settings()
    p.add_argument("--out", default="build/demo", help="output folder (default build/demo)")
    p.add_argument("--cell", default=d.cell, help="rnn, gru (default) or lstm")
    p.add_argument("--quant", default=d.quant, help="weight quantizer (default ternary)")
    p.add_argument("--hidden", type=int, default=d.hidden, help="hidden units (default 16)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs "
                   "(default: the trainer's for the task)")
    p.add_argument("--parallel", default=d.parallel,
                   help="engine lanes, a multiple of the cell's gate rows, or 'auto' (default: "
                        "the folding with the most steps/s that fits the board)")
    p.add_argument("--board", default=d.board, help="icebreaker (default) or ulx3s")
    p.add_argument("--simulator", default=d.simulator, help="verilator (default) or icarus")
    p.add_argument("--no-dsp", dest="dsp", action="store_false",
                   help="keep both bitstreams out of the DSP blocks (every product in LUTs)")
    p.add_argument("--clock-mhz", default=d.clock_mhz,
                   help="'auto' (default: build at the oscillator, then with the PLL at the "
                        "fastest clock the design meets), 'osc' (the board's oscillator) or MHz")
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

    from . import baseline, report

    s = Settings(**{f.name: getattr(args, f.name) for f in fields(Settings) if f.name != "task"})
    out = Path(args.out)
    if s.simulator not in ("icarus", "verilator"):
        raise UserError(f"--simulator must be icarus or verilator, not {s.simulator!r}")
    s.parallel = str(parse_parallel(str(s.parallel), auto=True))
    commands: list[str] = []

    def write_report():
        rep = report.write(out, asdict(s), commands)
        summary(rep, out)

    try:
        plan = stages(s, out, lambda: baseline.write(out / "run", out / "int8"), write_report)
        check_settings(out, s, args.fresh)
        commands += [f"python -m {' '.join(st.argv)}" if st.argv else f"# {st.what}"
                     for st in plan if st.name != "report"]
        t_all = time.monotonic()
        for step in steps(plan):
            run_step(step, plan, out)
    except StageFailed as e:  # a stage's own error is on the terminal above: exit 1
        print(f"demo: {e}", file=sys.stderr)
        return 1
    print(f"demo finished in {time.monotonic() - t_all:.0f} s", flush=True)
    return 0


def steps(plan: list[Stage]) -> list[list[list[Stage]]]:
    """The stages in order, as steps of chains: the chains of one step run side by side
    (simulation and the two bitstreams need only the model and the Verilog)."""
    by = {st.name: st for st in plan}
    return [[[by["train"]]], [[by["verilog"]]],
            [[by["sim"]], [by["bitstream"]], [by["int8"], by["int8-bitstream"]]],
            [[by["report"]]]]


def run_step(step: list[list[Stage]], plan: list[Stage], out: Path) -> None:
    n = len(plan)
    index = {st.name: i for i, st in enumerate(plan, 1)}

    def chain(stages: list[Stage], side_by_side: bool) -> None:
        for st in stages:
            head = f"[{index[st.name]}/{n}] {st.name}: {st.what}"
            if st.done():
                print(f"{head}: done before, kept", flush=True)
                continue
            log = out / "logs" / f"{st.name}.log" if side_by_side else None
            print(head + (f" (log: {log})" if log else ""), flush=True)
            secs = st.run(log)
            print(f"[{index[st.name]}/{n}] {st.name} finished in {secs:.0f} s", flush=True)

    if len(step) == 1:
        chain(step[0], False)
        return
    with ThreadPoolExecutor(len(step)) as pool:
        futures = [pool.submit(chain, c, True) for c in step]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]


def summary(rep: dict, out: Path) -> None:
    a, r, b = rep["accuracy"], rep["resources"], rep["baseline_int8"]
    acc = ", ".join(f"{k} {v:.4f}" for k, v in a.items() if v is not None)
    print(f"accuracy: {acc}; RTL mismatches {rep['rtl_mismatches']}")
    print(f"{rep['board']}: {r['lut']} LUTs, {r['ff']} FFs, {r['bram']} BRAM, {r['dsp']} DSP, "
          f"Fmax {rep['fmax_mhz']:.1f} MHz at {rep['clock_mhz']:g} MHz, "
          f"{rep['cycles_per_step']:g} cycles/step, {rep['sequences_per_second']:.0f} "
          f"sequences/s")
    if not b["fits"]:
        print(f"int8 baseline with the same folding: {b['error']}")
    else:
        print(f"int8 baseline: {b['lut']} LUTs, {b['ff']} FFs, {b['dsp']} DSP, Fmax "
              f"{b['fmax_mhz']:.1f} MHz ({rep['settings']['quant']} uses "
              f"{rep['ratio_to_int8']['lut']:.2f}x its LUTs)")
    print(f"wrote {out / 'report.md'} and {out / 'report.json'}")


if __name__ == "__main__":
    sys.exit(main())
