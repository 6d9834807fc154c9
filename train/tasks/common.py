"""What every task shares: the `Task` and `Split` a loader returns, and the helpers the loaders
use (the path check, text reading, padding, the normalisation of the features, the seeded
validation hold-out). Nothing here knows any one data set; this module does not touch torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw.errors import UserError


@dataclass
class Split:
    x: np.ndarray  # (N, T, F) float features, or (N, T) int symbol ids for one-hot tasks
    lengths: np.ndarray  # (N,) valid steps
    y: np.ndarray  # (N,) labels, or (N, T) next-symbol targets with -1 where padded

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class Origin:
    """Where a task's splits come from: the indices of each split's cases in the source, in
    the order the split holds them (`python -m train.data split` writes them)."""

    source: str  # what the indices count, e.g. "rows of sklearn.datasets.load_digits()"
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    names: list[str] | None = None  # the source's case names (fsdd: its file names)


@dataclass
class Task:
    name: str
    metric: str  # "accuracy" or "bpc"
    emit: str  # "last" (one label per sequence) or "every" (a target per step)
    classes: list[str]
    input_size: int
    train: Split
    valid: Split | None
    test: Split
    onehot: bool = False  # x holds symbol ids; features are one-hot vectors
    offset: np.ndarray | None = None
    scale: np.ndarray | None = None
    origin: Origin | None = None  # None where the split is fixed by the files (char)

    def summary(self) -> str:
        """One line: the splits' sizes, the classes, the sequence lengths, the inputs."""
        splits = [(n, s) for n, s in (("train", self.train), ("valid", self.valid),
                                      ("test", self.test)) if s is not None]
        lo = min(int(s.lengths.min()) for _, s in splits)
        hi = max(int(s.lengths.max()) for _, s in splits)
        steps = f"{lo} steps" if lo == hi else f"{lo}-{hi} steps"
        what = "symbols" if self.emit == "every" else "classes"
        inputs = f"one-hot of {self.input_size}" if self.onehot else f"{self.input_size} features"
        return (f"{self.name}: " + ", ".join(f"{len(s)} {n}" for n, s in splits)
                + f" sequences of {steps}; {len(self.classes)} {what}; inputs {inputs}; "
                f"metric {self.metric}")

    def features(self, split: Split, idx) -> np.ndarray:
        """Real features (B, T, input_size) of the sequences idx of a split."""
        x = split.x[idx]
        if self.onehot:
            return np.eye(self.input_size, dtype=np.float64)[x]
        return x.astype(np.float64)


def need_path(task: str, path) -> Path:
    if path is None:
        raise UserError(f"task {task} needs --data PATH (see docs/training.md)")
    p = Path(path)
    if not p.exists():
        raise UserError(f"data path {p} does not exist")
    return p


def read_text(p: Path) -> str:
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{p} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UserError(f"cannot read {p}: {e.strerror}") from None
    if not text.strip():
        raise UserError(f"{p} is empty")
    return text


def pad(seqs: list[np.ndarray], labels: np.ndarray) -> Split:
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    x = np.zeros((len(seqs), lengths.max(), seqs[0].shape[1]))
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    return Split(x, lengths, labels)


def subset(seqs: list, y: np.ndarray, idx) -> Split:
    return pad([seqs[i] for i in idx], y[idx])


def normalisation(split: Split, kind: str = "standard") -> tuple[np.ndarray, np.ndarray]:
    """Per-feature offset and scale over the valid steps of the training split.

    `standard`: mean and 1/std. `range`: one offset and scale for all features, the training
    values' min and 1/(max - min), so they span [0, 1] and none saturates the input format
    (for features in one unit, such as pixels)."""
    mask = np.arange(split.x.shape[1])[None, :] < split.lengths[:, None]
    v = split.x[mask]
    if kind == "range":
        lo, span = v.min(), v.max() - v.min()
        ones = np.ones(v.shape[1])
        return lo * ones, ones / span if span > 1e-8 else ones
    std = v.std(axis=0)
    return v.mean(axis=0), np.where(std > 1e-8, 1.0 / np.maximum(std, 1e-8), 1.0)


def range_scaling(split: Split, max_real: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature offset and scale that map the training split's [min, max] onto
    [-max_real, max_real]: the input format's whole range, and nothing of the training data
    saturates (--input-scale range)."""
    mask = np.arange(split.x.shape[1])[None, :] < split.lengths[:, None]
    v = split.x[mask].astype(np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    half = (hi - lo) / 2
    return (lo + hi) / 2, np.where(half > 1e-12, max_real / np.maximum(half, 1e-12), 1.0)


def with_norm(task: Task, kind: str = "standard") -> Task:
    task.offset, task.scale = normalisation(task.train, kind)
    return task


def two_classes(labels: np.ndarray, classes: list[str], where: str) -> None:
    """Refuse labels of one class: the loss is cross-entropy over the classes, so one class
    trains a constant answer that scores accuracy 1.0 (there is no regression task to serve)."""
    present = np.unique(labels)
    if len(present) < 2:
        name = classes[int(present[0])] if len(present) else "none"
        raise UserError(f"{where} holds one class ({name!r}); classification needs two or more "
                        f"(one class would score accuracy 1.0 with a constant answer)")


VALID_FRACTION = 0.15  # of each class of the training cases, when a data set has no split


def holdout(labels: np.ndarray, fraction: float, seed: int):
    """Indices (keep, held) of a seeded split with `fraction` of each class held out (at least
    one case of every class with two or more)."""
    rng = np.random.default_rng(seed + 7919)
    held = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(fraction * len(idx)))
        held.extend(idx[: max(n, 1 if len(idx) > 1 else 0)])
    held = np.sort(np.array(held, dtype=np.int64))
    if not len(held):
        raise UserError(f"no class has two training cases; a validation split needs some "
                        f"(got {len(labels)} cases)")
    keep = np.setdiff1d(np.arange(len(labels)), held)
    return keep, held
