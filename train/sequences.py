"""The names `train.sequences` has always offered (`ts`, `npz`, `save_npz`, `read_ts`,
`ts_task`); the loaders live in train/tasks/ts.py and train/tasks/sequences.py."""

from __future__ import annotations

from .tasks.sequences import npz, save_npz
from .tasks.ts import read_ts, ts, ts_task

__all__ = ["npz", "read_ts", "save_npz", "ts", "ts_task"]
