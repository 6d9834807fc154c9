"""The demo's stages: what each one runs, what it reads and writes, and whether it is done.

A stage is done when all its outputs exist and none is older than any of its inputs (as make
decides), so an interrupted demo reruns only what did not finish. Each stage runs one of the
project's own commands (`python -m train`, `python -m hw verilog`, `python -m sim`,
`python -m hw bitstream`) as a subprocess, whose progress output goes straight to the terminal.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hw.errors import UserError


@dataclass
class Settings:
    """What the demo builds; stored in OUT/settings.json, a change starts the demo over."""
    task: str = "digits"
    cell: str = "gru"
    hidden: int = 16  # 32 does not fit the iCE40UP5K with this generator (docs/boards.md)
    quant: str = "ternary"
    epochs: int | None = None  # the trainer's default for the task
    parallel: str = "auto"  # the engine's lanes; auto: sized for the board (hw.gen.fit)
    board: str = "icebreaker"
    simulator: str = "verilator"
    dsp: bool = True  # both bitstreams may use DSP blocks (the UP5K has 8)
    clock_mhz: str = "auto"  # the fastest PLL clock the design meets; "osc": the oscillator


def same_folding(run: Path) -> list[str]:
    """The shift-add design's lanes, columns and storage (its manifest), for the int8 design."""
    from hw.gen.manifest import load_manifest

    man = load_manifest(run / "manifest.json")
    return ["--parallel", str(man.parallel), "--simd", str(man.simd), "--storage", man.storage]


def int8_bitstream(base: Path, verilog: list[str], bitstream: list[str]) -> None:
    """The int8 design (generated with the shift-add design's folding) and its build; when it
    does not fit the board (int8 codes take four times the block RAM of ternary ones), the
    report says so instead of the demo stopping: base/bitstream.json then holds `fits: false`
    and the error line."""
    import json

    from hw.fileio import atomic_write_text

    for argv in (verilog, bitstream):
        print(f"  $ python -m {' '.join(argv)}", flush=True)
        r = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        if r.returncode == 0:
            continue
        line = (r.stderr.strip().splitlines() or ["(no message)"])[-1].removeprefix("error: ")
        if argv is verilog or "does not fit" not in line:
            raise StageFailed(f"stage int8-bitstream failed: {line}")
        print(f"  int8 baseline: {line}", flush=True)
        atomic_write_text(base / "bitstream.json",
                          json.dumps({"fits": False, "error": line}, indent=1) + "\n")


@dataclass
class Stage:
    name: str
    what: str
    inputs: list[Path]
    outputs: list[Path]
    argv: list[str] | None = None  # a command of this project, run with this Python
    func: Callable[[], None] | None = None  # or an in-process step
    extra: Callable[[], list[str]] = field(default=lambda: [])  # argv added at run time

    def done(self) -> bool:
        if not all(p.is_file() for p in self.outputs):
            return False
        newest_in = max((p.stat().st_mtime for p in self.inputs if p.is_file()), default=0.0)
        return min(p.stat().st_mtime for p in self.outputs) >= newest_in

    def run(self, log: Path | None = None) -> float:
        """Run the stage; with `log`, its output goes there and, line by line and prefixed
        with the stage's name, to the terminal (for stages that run side by side)."""
        t0 = time.monotonic()
        if self.argv is not None:
            cmd = [sys.executable, "-m", *self.argv, *self.extra()]
            print(f"  $ python -m {' '.join(self.argv + self.extra())}", flush=True)
            if log is None:
                rc = subprocess.run(cmd).returncode
            else:
                rc = _logged(cmd, log, f"[{self.name}] ")
            if rc != 0:
                raise StageFailed(f"stage {self.name} failed ({' '.join(cmd[2:4])} exited "
                                  f"with status {rc}); fix the cause and rerun: finished "
                                  f"stages are kept")
        else:
            self.func()
        return time.monotonic() - t0


class StageFailed(UserError):
    pass


def _logged(cmd: list[str], log: Path, prefix: str) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, text=True,
                                               bufsize=1) as p:
        for line in p.stdout:
            f.write(line)
            f.flush()
            if line.strip() and not _noise(line):
                print(prefix + line.rstrip()[:160], flush=True)
    return p.returncode


def _noise(line: str) -> bool:
    """cocotb's per-simulation start-up chatter (it stays in the log file)."""
    return " INFO     gpi" in line or " INFO     pygpi" in line or line.lstrip().startswith("**")


def stages(s: Settings, out: Path, baseline: Callable[[], None],
           report: Callable[[], None]) -> list[Stage]:
    run, base = out / "run", out / "int8"
    train = ["train", "--task", s.task, "--cell", s.cell, "--hidden", str(s.hidden),
             "--quant", s.quant, "--mode", "hardware", "--baseline", "--out", str(run)]
    if s.epochs is not None:
        train += ["--epochs", str(s.epochs)]
    # a killed training run left its last finished epoch in checkpoint.pt: go on from there
    resume = lambda: ["--resume"] if (run / "checkpoint.pt").is_file() else []  # noqa: E731
    from hw.board.registry import BOARDS

    if s.board not in BOARDS:
        raise UserError(f"--board must be one of {', '.join(sorted(BOARDS))}, not {s.board!r}")
    clock = f"{BOARDS[s.board].osc_hz / 1e6:g}" if s.clock_mhz == "osc" else s.clock_mhz
    dsp = [] if s.dsp else ["--no-dsp"]
    bitstream = ["--board", s.board, "--clock-mhz", clock, *dsp]  # the design: make verilog's
    model = run / "model.json"
    return [
        Stage("train", f"train a hardware-mode {s.quant} {s.cell.upper()} (hidden {s.hidden}) "
              f"on {s.task}, after a float baseline", [], [model, run / "train.json",
                                                          run / "testset.npz"],
              argv=train, extra=resume),
        Stage("verilog", f"generate Verilog (--parallel {s.parallel}, sized for the {s.board})",
              [model], [run / "top.v", run / "manifest.json"],
              argv=["hw", "verilog", str(model), "--parallel", str(s.parallel), "--board",
                    s.board, "--out", str(run)]),
        Stage("sim", f"simulate top.v on the whole test set with cocotb on {s.simulator}, "
              f"bit for bit against the reference model", [run / "top.v", run / "testset.npz"],
              [run / "sim.json"], argv=["sim", str(run), "--simulator", s.simulator]),
        Stage("bitstream", f"build the {s.board} bitstream", [model],
              [run / "bitstream.json"], argv=["hw", "bitstream", str(run), *bitstream]),
        Stage("int8", "the same model with int8 weights (post-training quantization of the "
              "trained shadow weights): the multiplier baseline", [model],
              [base / "model.json", base / "int8.json"], func=baseline),
        Stage("int8-bitstream", f"generate the int8 baseline with the same folding and build "
              f"its {s.board} bitstream the same way", [base / "model.json"],
              [base / "bitstream.json"],
              func=lambda: int8_bitstream(
                  base, ["hw", "verilog", str(base / "model.json"), *same_folding(run),
                         "--board", s.board, "--out", str(base)],
                  ["hw", "bitstream", str(base), *bitstream])),
        Stage("report", "write report.md and report.json",
              [run / "train.json", run / "sim.json", run / "bitstream.json",
               base / "bitstream.json"], [out / "report.md", out / "report.json"],
              func=report),
    ]
