"""The demo's stages: what each one runs, what it reads and writes, and whether it is done.

Three models of one size are trained the same way (the task's epochs, learning rate and seed,
the epoch its selection rule keeps, hardware mode): the shift-add one (`--quant`, ternary by
default), an int8 one (its products need multipliers) and a float one (exported with int16
weights). Each is generated with its own folding (`--parallel auto`: the most steps/s that
fits the board) and built into a bitstream the same way. The shift-add model is also simulated
on the whole test set, bit for bit against the reference model. A baseline that does not fit
the board is recorded as such (its bitstream.json holds `fits: false` and the one-line
reason) instead of stopping the demo.

A stage is done when all its outputs exist and none is older than any of its inputs (as make
decides), so an interrupted demo reruns only what did not finish. Each stage runs one of the
project's own commands (`python -m train`, `python -m hw verilog`, `python -m sim`,
`python -m hw bitstream`) as a subprocess.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hw.errors import UserError
from hw.fileio import atomic_write_text

BASELINES = ("int8", "float")  # trained next to the shift-add model, in this order


@dataclass
class Settings:
    """What the demo builds; stored in OUT/settings.json, a change starts the demo over."""
    task: str = "digits"
    cell: str = "gru"
    # the explorer's pick for the iCEBreaker (docs/explore.md, "What to pick")
    hidden: int = 32
    quant: str = "ternary"  # the shift-add model; int8 and float are the baselines
    epochs: int | None = None  # the trainer's default for the task, for all three models
    parallel: str = "auto"  # the engine's lanes; auto: sized for the board (hw.gen.fit)
    board: str = "icebreaker"
    simulator: str = "verilator"
    dsp: bool = True  # the bitstreams may use DSP blocks (the UP5K has 8)
    clock_mhz: str = "auto"  # the fastest PLL clock the design meets; "osc": the oscillator

    def models(self) -> tuple[str, ...]:
        return (self.quant, *BASELINES)


def check(s: Settings) -> None:
    from hw.board.registry import BOARDS

    if s.quant in BASELINES:
        raise UserError(f"--quant must be a shift-add scheme (ternary, pow2-ternary, "
                        f"exponential, binary, ...): {s.quant} is one of the baselines the demo "
                        f"compares it with ({', '.join(BASELINES)})")
    if s.simulator not in ("icarus", "verilator"):
        raise UserError(f"--simulator must be icarus or verilator, not {s.simulator!r}")
    if s.board not in BOARDS:
        raise UserError(f"--board must be one of {', '.join(sorted(BOARDS))}, not {s.board!r}")


class StageFailed(UserError):
    pass


@dataclass
class Stage:
    name: str
    what: str
    inputs: list[Path]
    outputs: list[Path]
    argv: list[str] | None = None  # a command of this project, run with this Python
    func: Callable[[Path | None], None] | None = None  # or an in-process step (its log)
    extra: Callable[[], list[str]] = field(default=lambda: [])  # argv added at run time
    shows: list[list[str]] = field(default_factory=list)  # a func's commands, for the report

    def commands(self) -> list[str]:
        """The project commands this stage runs (rerun any alone), as shell lines."""
        return [f"python -m {' '.join(a)}" for a in ([self.argv] if self.argv else self.shows)]

    def done(self) -> bool:
        if not all(p.is_file() for p in self.outputs):
            return False
        newest_in = max((p.stat().st_mtime for p in self.inputs if p.is_file()), default=0.0)
        return min(p.stat().st_mtime for p in self.outputs) >= newest_in

    def run(self, log: Path | None = None) -> float:
        """Run the stage; with `log`, its output goes there and, line by line and prefixed
        with the stage's name, to the terminal (stages run side by side)."""
        t0 = time.monotonic()
        if self.argv is not None:
            argv = self.argv + self.extra()
            rc = command(argv, log, self.name)
            if rc != 0:
                raise StageFailed(f"stage {self.name} failed (python -m {' '.join(argv[:2])} "
                                  f"exited with status {rc}); fix the cause and rerun: "
                                  f"finished stages are kept")
        else:
            self.func(log)
        return time.monotonic() - t0


def command(argv: list[str], log: Path | None, name: str, *, errors: list | None = None
            ) -> int:
    """Run `python -m ARGV` (output to the terminal, or to `log` and prefixed to the
    terminal); `errors` receives the command's last line on stderr."""
    print(f"  [{name}] $ python -m {' '.join(argv)}", flush=True)
    cmd = [sys.executable, "-m", *argv]
    if log is None:
        p = subprocess.run(cmd, stderr=subprocess.PIPE if errors is not None else None,
                           text=True)
        if errors is not None:
            sys.stderr.write(p.stderr)
            errors.append(_last_line(p.stderr))
        return p.returncode
    log.parent.mkdir(parents=True, exist_ok=True)
    last = ""
    with open(log, "a") as f, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, text=True,
                                               bufsize=1) as p:
        f.write(f"$ python -m {' '.join(argv)}\n")
        for line in p.stdout:
            f.write(line)
            f.flush()
            if line.strip():
                last = line.strip()
                if not _noise(line):
                    print(f"[{name}] {line.rstrip()[:160]}", flush=True)
    if errors is not None:
        errors.append(last.removeprefix("error: "))
    return p.returncode


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["(no message)"])[-1].removeprefix("error: ")


_EPOCH = re.compile(r"epoch (\d+)/(\d+):")


def _noise(line: str) -> bool:
    """What stays in the log file only: cocotb's per-simulation start-up chatter, and the
    training's epoch lines other than the first, every tenth and the last."""
    if m := _EPOCH.search(line):
        n, last = int(m.group(1)), int(m.group(2))
        return not (n == 1 or n % 10 == 0 or n == last)
    return " INFO     gpi" in line or " INFO     pygpi" in line or line.lstrip().startswith("**")


def baseline_hardware(run: Path, verilog: list[str], bitstream: list[str],
                      log: Path | None, name: str) -> None:
    """A baseline's design (`--parallel auto`, its own folding) and its build. When no folding
    fits the board, or the build does not fit it, RUN/bitstream.json says so (`fits: false`
    and the one-line reason) and the demo goes on; any other failure stops it."""
    for argv in (verilog, bitstream):
        errors: list[str] = []
        if command(argv, log, name, errors=errors) == 0:
            continue
        line = errors[-1] if errors else "(no message)"
        if "does not fit" not in line and "no folding of this" not in line:
            raise StageFailed(f"stage {name} failed: {line}")
        print(f"  [{name}] recorded as not fitting the board; the demo goes on", flush=True)
        atomic_write_text(run / "bitstream.json",
                          json.dumps({"fits": False, "error": line}, indent=1) + "\n")
        return


def stages(s: Settings, out: Path, report: Callable[[Path | None], None]) -> list[Stage]:
    from hw.board.registry import BOARDS

    check(s)
    clock = f"{BOARDS[s.board].osc_hz / 1e6:g}" if s.clock_mhz == "osc" else s.clock_mhz
    build = ["--board", s.board, "--clock-mhz", clock, *([] if s.dsp else ["--no-dsp"])]
    plan = []
    for q in s.models():
        run = out / q
        model = run / "model.json"
        train = ["train", "--task", s.task, "--cell", s.cell, "--hidden", str(s.hidden),
                 "--quant", q, "--mode", "hardware", "--out", str(run), "--no-progress"]
        if s.epochs is not None:
            train += ["--epochs", str(s.epochs)]
        plan.append(Stage(
            f"train-{q}", f"train a hardware-mode {q} {s.cell.upper()} (hidden {s.hidden}) on "
            f"{s.task}", [], [model, run / "train.json", run / "testset.npz"], argv=train,
            # a killed training run left its last finished epoch in checkpoint.pt: go on
            extra=lambda run=run: ["--resume"] if (run / "checkpoint.pt").is_file() else []))
        verilog = ["hw", "verilog", str(model), "--parallel", str(s.parallel), "--board",
                   s.board, "--out", str(run)]
        bitstream = ["hw", "bitstream", str(run), *build]
        if q != s.quant:
            plan.append(Stage(
                f"hardware-{q}", f"generate the {q} design with its own folding (--parallel "
                f"{s.parallel}) and build its {s.board} bitstream the same way", [model],
                [run / "bitstream.json"],
                func=lambda log, run=run, v=verilog, b=bitstream, q=q: baseline_hardware(
                    run, v, b, log, f"hardware-{q}"), shows=[verilog, bitstream]))
            continue
        plan += [
            Stage(f"verilog-{q}", f"generate Verilog (--parallel {s.parallel}, sized for the "
                  f"{s.board})", [model], [run / "top.v", run / "manifest.json"], argv=verilog),
            Stage(f"sim-{q}", f"simulate top.v on the whole test set with cocotb on "
                  f"{s.simulator}, bit for bit against the reference model",
                  [run / "top.v", run / "testset.npz"], [run / "sim.json"],
                  argv=["sim", str(run), "--simulator", s.simulator]),
            Stage(f"bitstream-{q}", f"build the {s.board} bitstream", [run / "manifest.json"],
                  [run / "bitstream.json"], argv=bitstream)]
    # the runner starts ready stages in this order: the long chains (a bitstream at
    # --clock-mhz auto is several builds) first, the simulation beside them, float's last
    by = {st.name: st for st in plan}
    q, i8, fl = s.models()
    plan = [by[n] for n in (f"train-{q}", f"train-{i8}", f"verilog-{q}", f"bitstream-{q}",
                            f"hardware-{i8}", f"train-{fl}", f"hardware-{fl}", f"sim-{q}")]
    plan.append(Stage("report", "write report.md and report.json",
                      [p for st in plan for p in st.outputs if p.name.endswith("json")],
                      [out / "report.md", out / "report.json"], func=report))
    return plan
