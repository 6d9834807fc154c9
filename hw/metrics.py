"""Task metrics computed from the integers the hardware produces (shared by train/ and sim/).

A test set exported by the trainer (`RUN/testset.npz`) holds `x` (N, T, inputs) input-format
integers, `lengths` (N,) valid steps per sequence, and `y`: (N,) class labels for
classification or (N, T) next-symbol targets for language models (-1 where padded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .fileio import atomic_write_npz
from .numerics import Fixed

METRICS = ("accuracy", "bpc")


@dataclass
class TestSet:
    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def sequence(self, i: int) -> np.ndarray:
        return self.x[i, : self.lengths[i]]


def load_testset(path) -> TestSet:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"test set {path} does not exist (the trainer writes RUN/testset.npz)")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":  # an .npz is a zip archive
        raise UserError(f"test set {path} is not an .npz archive (numpy.savez of x, lengths "
                        f"and y, as RUN/testset.npz)")
    try:
        with np.load(path) as z:
            ts = TestSet(z["x"].astype(np.int64), z["lengths"].astype(np.int64),
                         z["y"].astype(np.int64))
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"test set {path} is malformed: {e}") from None
    if ts.x.ndim != 3 or ts.lengths.shape != (len(ts.x),) or len(ts.y) != len(ts.x):
        raise UserError(f"test set {path} has inconsistent shapes x{ts.x.shape} "
                        f"lengths{ts.lengths.shape} y{ts.y.shape}")
    return ts


def save_testset(ts: TestSet, path) -> None:
    atomic_write_npz(path, compressed=True, x=ts.x, lengths=ts.lengths, y=ts.y)


def accuracy(pred, labels) -> float:
    pred, labels = np.asarray(pred), np.asarray(labels)
    return float((pred == labels).mean()) if len(labels) else 0.0


def bits_per_symbol(logits, fmt: Fixed, targets) -> float:
    """Mean cross-entropy in bits of integer logits (format `fmt`) against targets (-1 = skip).

    Computed in float64 from the exact logits; the same integers give the same number.
    """
    z = np.asarray(logits, dtype=np.float64) / fmt.one
    t = np.asarray(targets).reshape(-1)
    z = z.reshape(len(t), -1)
    keep = t >= 0
    z, t = z[keep], t[keep]
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(t)), t].mean() / np.log(2.0))
