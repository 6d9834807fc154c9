"""One measurement for the board benches: build a model's board top and keep the figures, or
the reason it failed, as one JSON-able record; records persist in a JSON file so that an
interrupted bench resumes where it stopped (bench/capacity.py, bench/shift_vs_int8.py)."""

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from ..cli import run
from ..errors import UserError
from ..fileio import atomic_write_text
from .build import build
from .registry import BOARDS

REPO = Path(__file__).resolve().parents[2]


def source_version() -> str:
    """The last commit touching the generator or the board top (what the figures depend on)."""
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h", "--", "hw/gen", "hw/board"],
                             cwd=REPO, capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Records:
    """A JSON list of probe records, rewritten atomically after each new one."""

    def __init__(self, path):
        self.path = Path(path)
        self.items = json.loads(self.path.read_text()) if self.path.is_file() else []

    def find(self, key: dict):
        for r in self.items:
            if all(r.get(k) == v for k, v in key.items()):
                return r
        return None

    def add(self, rec: dict) -> None:
        self.items.append(rec)
        atomic_write_text(self.path, json.dumps(self.items, indent=1) + "\n")


class _Overtime(Exception):
    """A probe's build ran past its time limit (raised from the build's progress report,
    which comes at least every 30 s while the tools run; the build stops its tools)."""


def probe(model, *, board: str, parallel, clock_mhz: float, dsp: bool = True,
          classic_abc: bool = False, storage: str = "registers", keep: Path | None = None,
          simd: int = 1, order: str = "rows", placement=None,
          head: tuple[int, int] | None = None, reloadable: bool = False,
          limit_s: float | None = None, progress=print) -> dict:
    """Build at `clock_mhz` (the folding: `parallel`, `simd`, `order`, `placement`, `head`
    and `reloadable` as hw.board.build.build takes them; a placement with memories in SPRAM
    needs `reloadable`); the record says whether it fits and meets that clock. A build
    still running after `limit_s` seconds is stopped and recorded as failed, `timed_out`
    with that limit (not placed and routed in that time on this machine)."""
    b = BOARDS[board]
    t0 = time.monotonic()

    def report(line):
        progress(line)
        if limit_s is not None and time.monotonic() - t0 > limit_s:
            raise _Overtime

    with tempfile.TemporaryDirectory(prefix="shiftrnn-probe-") as tmp:
        out = Path(keep) if keep else Path(tmp) / "build"
        rec = {"fits": True, "error": ""}
        try:
            res = build(model, board=b, parallel=parallel, clock_hz=clock_mhz * 1e6,
                        baud=1_000_000, out_dir=out, dsp=dsp, classic_abc=classic_abc,
                        storage=storage, simd=simd, order=order, placement=placement,
                        head=head, reloadable=reloadable, progress=report)
        except _Overtime:
            rec.update(error=f"not placed and routed within {limit_s / 60:g} minutes",
                       timed_out=True, limit_s=limit_s)
        except UserError as e:
            if "does not fit" not in str(e):
                raise  # a tool failure is no measurement: nothing is recorded
            rec.update(fits=False, error=str(e))
        else:
            rec.update({k: v for k, v in asdict(res).items()
                        if k not in ("bitstream", "pll", "fingerprint", "board")})
            rec["meets_clock"] = res.meets_clock
    rec["seconds"] = round(time.monotonic() - t0, 1)
    rec["ok"] = rec["fits"] and rec.get("meets_clock", False)
    return rec


def bench_main(main) -> None:
    """Run a board bench's `main` and exit with its status; a tool failure that is not a
    measurement (never recorded) ends with one error line and status 2, not a traceback."""
    sys.exit(run(main))
