"""What a simulation should do, passed from pytest or the CLI to the cocotb test module.

The caller writes `job.json` and `sequences.npz` into the build folder and points the
simulator's environment variable SHIFTRNN_SIM_JOB at job.json; the cocotb tests (sim/tb_top.py)
read it and write one `<test>.json` report (and `<test>.npz` with the RTL's output beats)
into the same folder. Plain data only, so it can be read on both sides.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hw.fileio import atomic_write_npz, atomic_write_text

ENV = "SHIFTRNN_SIM_JOB"


@dataclass
class Flow:
    """Random idle probability per input beat, backpressure probability per cycle, and how
    many of the job's sequences to run (None: all)."""

    idle: float = 0.0
    backpressure: float = 0.0
    count: int | None = None


@dataclass
class Job:
    model: str  # model.json
    manifest: str  # manifest.json
    folder: str  # where sequences.npz lies and the reports go
    seed: int = 0
    stop_at_first: bool = True
    flows: dict[str, Flow] = field(default_factory=lambda: {"steady": Flow()})
    checks: bool = True  # run the reset and `first` tests too
    progress: bool = False  # log progress lines (the CLI)

    @property
    def path(self) -> Path:
        return Path(self.folder) / "job.json"

    def env(self) -> dict[str, str]:
        return {ENV: str(self.path)}


def write_job(job: Job, x: np.ndarray, lengths: np.ndarray) -> Job:
    folder = Path(job.folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_npz(folder / "sequences.npz", x=np.asarray(x, dtype=np.int64),
                     lengths=np.asarray(lengths, np.int64))
    d = asdict(job)
    atomic_write_text(job.path, json.dumps(d, indent=1) + "\n")
    return job


def read_job(path: str | None = None) -> tuple[Job, np.ndarray, np.ndarray]:
    path = Path(path or os.environ[ENV])
    d = json.loads(path.read_text())
    d["flows"] = {k: Flow(**v) for k, v in d["flows"].items()}
    job = Job(**d)
    with np.load(Path(job.folder) / "sequences.npz") as z:
        return job, z["x"], z["lengths"]


def write_report(job: Job, test: str, report: dict, beats=None) -> None:
    """`report` as <test>.json; `beats` (item, data rows, argmax) as <test>.npz."""
    folder = Path(job.folder)
    name = test.replace("/", "_").replace("=", "-")
    if beats is not None:
        items = np.array([b[0] for b in beats], dtype=np.int64)
        n = max((len(b[1]) for b in beats), default=0)
        data = np.array([b[1] for b in beats], dtype=np.int64).reshape(len(beats), n)
        argmax = np.array([-1 if b[2] is None else b[2] for b in beats], dtype=np.int64)
        atomic_write_npz(folder / f"{name}.npz", item=items, data=data, argmax=argmax)
    atomic_write_text(folder / f"{name}.json", json.dumps(report, indent=1) + "\n")


def read_report(folder, test: str) -> tuple[dict, dict | None]:
    name = test.replace("/", "_").replace("=", "-")
    folder = Path(folder)
    report = json.loads((folder / f"{name}.json").read_text())
    beats = None
    if (folder / f"{name}.npz").is_file():
        with np.load(folder / f"{name}.npz") as z:
            beats = {k: z[k] for k in z.files}
    return report, beats
