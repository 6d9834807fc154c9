"""A trial in a process of its own: what a Dask worker runs for each point of the space.

`run_trial` (the task the client submits) starts `python -m explore.trial RUN/trial.json` and
waits for it. The child runs the stages (explore/stages.py) with its output in RUN/trial.log
and writes RUN/record.json. A process per trial keeps what the stages change process-wide (the
simulator runner's os.environ, torch's threads, memory) out of the worker, lets a worker run
several trials at once on as many threads, and turns a crash (a simulator's segfault, the
kernel's OOM killer) into a failed trial instead of a lost worker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from hw.fileio import atomic_write_text

from .space import StageSettings

ROOT = Path(__file__).resolve().parents[1]


def run_trial(point: dict, settings: dict, run: str, key: str, after=None) -> dict:
    """Run one trial in the folder `run` (started afresh); return its record. `after`: the
    record of the trial whose reloadable design this one reuses (Dask passes it when that
    trial is done; its files are what this one reads)."""
    run = Path(run)
    if run.exists():  # an unfinished earlier attempt: its files may be from any stage
        shutil.rmtree(run)
    run.mkdir(parents=True)
    atomic_write_text(run / "trial.json", json.dumps(
        {"point": point, "settings": settings, "key": key}, indent=1) + "\n")
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with open(run / "trial.log", "w") as log:
        proc = subprocess.run([sys.executable, "-m", "explore.trial", str(run / "trial.json")],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    record = run / "record.json"
    if record.is_file():
        rec = json.loads(record.read_text())
    else:
        st = StageSettings(**settings)
        rec = {"hash": key, "config": point, "stages": asdict(st), "run": str(run),
               "status": "failed", "failed_stage": None, "figures": {}, "seconds": {},
               "commands": [], "error": f"the trial's process ended with status "
                                        f"{proc.returncode} and no record; see {run}/trial.log"}
    rec["worker"] = os.uname().nodename
    return rec


def _die_with_parent() -> None:
    """Linux: when the worker that started this process dies (a sweep stopped with Ctrl-C),
    the kernel sends SIGTERM, and this process kills its whole process group (the simulator,
    yosys, nextpnr it started), so nothing goes on writing into a folder a rerun starts afresh."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, lambda *_: os.killpg(0, signal.SIGKILL))
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> int:
    from .stages import run_stages

    _die_with_parent()

    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text())
    run = spec_path.parent
    rec = run_stages(spec["point"], StageSettings(**spec["settings"]), run, spec["key"])
    atomic_write_text(run / "record.json", json.dumps(rec, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
