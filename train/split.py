"""`python -m train.data split TASK [--data PATH] [--seed N] --out split.npz`: the trainer's split.

A plain torch model meant for `--init` must be trained on the training split the trainer will
use, or its test figures read high (a user's own split of digits held 291 of the trainer's 359
test images). This writes that split: the indices of the train, valid and test cases in the
data set's own order (`source` says what they count), with the task, the seed and the data
path, as an .npz without object arrays. char has no drawn split (its files fix it) and is
refused.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from hw import cli
from hw.errors import UserError
from hw.fileio import atomic_write_npz, writable_folder

from .tasks import TASKS, Task, load


def save_split(task: Task, seed: int, data, out) -> Path:
    """Write task.origin (with the task name, the seed and the data path) to `out`."""
    o = task.origin
    if o is None:
        raise UserError(f"task {task.name}'s split is fixed by its files, not drawn "
                        f"(ptb.char.{{train,valid,test}}.txt, or the first 90 %, next 5 % and "
                        f"last 5 % of input.txt's characters): there is no split to export")
    out = Path(out)
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; name the .npz file to write")
    writable_folder(out.parent if str(out.parent) else Path("."), "the folder of --out")
    extra = {"names": np.array(o.names, dtype=str)} if o.names is not None else {}
    atomic_write_npz(out, task=np.array(task.name), seed=np.array(seed, dtype=np.int64),
                     data=np.array("" if data is None else str(data)),
                     source=np.array(o.source), train=o.train.astype(np.int64),
                     valid=o.valid.astype(np.int64), test=o.test.astype(np.int64), **extra)
    return out


def main(argv: list[str]) -> int:
    p = cli.Parser(prog="python -m train.data split", description=__doc__.splitlines()[0])
    p.add_argument("task", help=", ".join(t for t in TASKS if t != "char"))
    p.add_argument("--data", help="data path (every task but digits), as for python -m train")
    p.add_argument("--seed", type=int, default=0, help="the training run's --seed (default 0)")
    p.add_argument("--out", required=True, help="the .npz to write")
    args = p.parse_args(argv)

    def body() -> int:
        task = load(args.task, args.data, seed=args.seed)
        out = save_split(task, args.seed, args.data, args.out)
        o = task.origin
        print(f"{task.name} seed {args.seed}: {len(o.train)} train, {len(o.valid)} valid, "
              f"{len(o.test)} test indices into {o.source} -> {out}")
        return 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
