"""DIR/trials.jsonl: one JSON record per finished trial, appended as the sweep goes.

Only the client writes the file. Each record is one line written with a single `os.write` on
a descriptor opened with O_APPEND and then fsync'd, so a reader sees whole lines; a line cut
short by a kill (a torn last line) is dropped when the file is next opened, so the trial runs
again. A trial is finished when its hash has a record, whether it succeeded or failed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hw.errors import UserError
from hw.fileio import atomic_write_text

FILE = "trials.jsonl"


class Trials:
    def __init__(self, out: Path):
        self.path = Path(out) / FILE
        self.records: list[dict] = []
        if self.path.is_file():
            self._read()

    def _read(self) -> None:
        text = self.path.read_text()
        lines = text.split("\n")
        whole, tail = lines[:-1], lines[-1]  # text after the last newline: a torn write
        for i, line in enumerate(whole, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(f"{self.path} line {i} is not a JSON record; move the file "
                                f"away to start the sweep over") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("hash"), str):
                raise UserError(f"{self.path} line {i} has no trial hash")
            self.records.append(rec)
        if tail:
            atomic_write_text(self.path, "".join(line + "\n" for line in whole))

    def done(self, retry_failed: bool = False) -> set[str]:
        return {r["hash"] for r in self.records
                if not (retry_failed and r.get("status") != "ok")}

    def append(self, rec: dict) -> None:
        line = (json.dumps(rec, sort_keys=True) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.write(fd, line) != len(line):
                raise OSError(f"short write to {self.path}")
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records.append(rec)

    def latest(self) -> list[dict]:
        """The last record of each trial (a failed trial retried has two)."""
        by = {}
        for r in self.records:
            by[r["hash"]] = r
        return list(by.values())
