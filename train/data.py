"""The data sets' public names, and `python -m train.data download|split ...`.

The tasks live in `train/tasks/` (one module per data set, a registry in its `__init__`);
this module keeps the names callers import (`data.load`, `data.Task`, `data.digits`, ...) and
the command line. It does not touch torch.
"""

from __future__ import annotations

from .tasks import TASKS, load
from .tasks.char import char
from .tasks.common import VALID_FRACTION, Split, Task, holdout, range_scaling
from .tasks.digits import digits
from .tasks.fsdd import (
    FSDD_HOP,
    FSDD_MAX_FRAMES,
    FSDD_MELS,
    FSDD_RATE,
    FSDD_WINDOW,
    fsdd,
    log_mel,
    mel_filterbank,
)
from .tasks.ts import vowels

__all__ = ["FSDD_HOP", "FSDD_MAX_FRAMES", "FSDD_MELS", "FSDD_RATE", "FSDD_WINDOW", "TASKS",
           "VALID_FRACTION", "Split", "Task", "char", "digits", "fsdd", "holdout", "load",
           "log_mel", "mel_filterbank", "range_scaling", "vowels"]


USAGE = ("usage: python -m train.data download fsdd|vowels|ptb-char DIR\n"
         "       python -m train.data split TASK [--data PATH] [--seed N] --out split.npz")

if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["download"]:
        from .download import main as _download

        sys.exit(_download(sys.argv[2:]))
    if sys.argv[1:2] == ["split"]:
        from .split import main as _split

        sys.exit(_split(sys.argv[2:]))
    print(USAGE, file=sys.stderr)
    sys.exit(0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2)
