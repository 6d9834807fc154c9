"""The tasks: one module per data set, and the registry `load` reads.

A task module turns a data path into a `Task` (train/valid/test `Split`s of sequences, the
classes, the metric, the per-feature normalisation from the training split); every loader
fails with one `UserError` line naming the path and the problem. Features are real numbers; the
trainer maps them into the input fixed-point format with `offset` and `scale` (the model file's
`input_transform`). This package does not touch torch.

| task | module | data |
|---|---|---|
| `digits` | digits.py | scikit-learn's bundled 8x8 digits (no path) |
| `char` | char.py | PTB char files, or a text file (a character language model) |
| `vowels`, `ts` | ts.py | UCI Japanese Vowels; any UEA/UCR .ts problem |
| `fsdd` | fsdd.py | Free Spoken Digit Dataset wav folder, log-mel frames |
| `sequences` | sequences.py | the user's .npz |

A new task is a module with a `load(path, *, seed, seq_len) -> Task` and a line in `LOADERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from hw.errors import UserError

from . import char, digits, fsdd, sequences, ts
from .common import Split, Task

# name -> load(path, *, seed, seq_len); the order is the one the help and the errors list
LOADERS: dict[str, Callable[..., Task]] = {
    "digits": digits.load,
    "char": char.load,
    "vowels": ts.load_vowels,
    "fsdd": fsdd.load,
    "ts": ts.load_ts,
    "sequences": sequences.load,
}
TASKS = tuple(LOADERS)


def load(task: str, path=None, *, seed: int = 0, seq_len: int = 100) -> Task:
    if task not in LOADERS:
        raise UserError(f"task {task!r} is unknown; tasks are {', '.join(TASKS)}")
    return LOADERS[task](path, seed=seed, seq_len=seq_len)


__all__ = ["LOADERS", "TASKS", "Split", "Task", "load"]
