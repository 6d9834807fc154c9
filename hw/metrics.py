"""Task metrics computed from the integers the hardware produces: the one home of the metric
(train/export, sim/simulate and the board host all call `task_metric`).

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
from .modelfile import METRICS
from .numerics import Fixed


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


def check_testset(ts: TestSet, model, where) -> None:
    """UserError naming the first thing in a test set the model cannot take (before any build
    or any byte to a board): its element count per step, its lengths, and each valid step's
    elements (input-format integers, or a one-hot input's tokens in the vocabulary)."""
    if len(ts) == 0:
        raise UserError(f"test set {where} holds no sequences")
    n = model.beat_inputs
    what = "token" if model.onehot else "features"
    if ts.x.shape[-1] != n:
        raise UserError(f"test set {where} has {ts.x.shape[-1]} elements per step; the model "
                        f"takes {n} ({what})")
    T = ts.x.shape[1]
    bad = np.flatnonzero((ts.lengths < 1) | (ts.lengths > T))
    if len(bad):
        i = int(bad[0])
        raise UserError(f"test set {where}: sequence {i} has length {int(ts.lengths[i])}; "
                        f"lengths must be 1..{T} (x has {T} steps)")
    lo, hi = model.input_range
    valid = np.arange(T)[None, :] < ts.lengths[:, None]
    out = valid[..., None] & ((ts.x < lo) | (ts.x > hi))
    if out.any():
        i, t, f = (int(v) for v in np.argwhere(out)[0])
        if model.onehot:
            kind = f"the vocabulary of the one-hot input (tokens {lo}..{hi})"
        else:
            fmt = model.formats.input
            kind = (f"the input format Q{fmt.bits}.{fmt.frac} ({lo}..{hi}); test sets hold "
                    f"input-format integers (model.quantize_input)")
        raise UserError(f"test set {where}: x[{i}][{t}][{f}] is {int(ts.x[i, t, f])}, outside "
                        f"{kind}")


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


def task_metric(name: str, logits, y, fmt: Fixed, *, lengths=None, argmax=None) -> float:
    """The task's figure of outputs laid out as `hw.beats.reference_outputs` lays them out:
    logits (N, C) at each sequence's last step, or (N, T, C) at every step.

    `accuracy`: the argmax (`argmax` as the hardware sent it, else np.argmax of the logits:
    first of equals, as the hardware) against class labels y (N,) at each sequence's last step
    (`lengths` needed for per-step outputs), or against per-step labels y (N, T) where y >= 0.
    `bpc`: bits per symbol of the logits (format `fmt`) against targets, -1 skipped.
    """
    logits = np.asarray(logits)
    y = np.asarray(y)
    if name not in METRICS:
        raise UserError(f"metric {name!r} (model.json meta.metric) is not one of "
                        f"{', '.join(METRICS)}")

    def at_last(a):
        if lengths is None:
            raise ValueError("per-step outputs against one label per sequence need lengths")
        return a[np.arange(len(a)), np.asarray(lengths) - 1]

    per_step = logits.ndim == 3
    if name == "accuracy":
        am = np.argmax(logits, axis=-1) if argmax is None else np.asarray(argmax)
        if y.ndim == 1:
            return accuracy(at_last(am) if per_step else am, y)
        keep = y >= 0
        return accuracy(am[keep], y[keep])
    if per_step and y.ndim == 1:
        logits = at_last(logits)
    return bits_per_symbol(logits, fmt, y)


def outputs_from_beats(T: int, n: int, item, data, argmax, emit: str):
    """Received beats (sequence index `item`, `data`, `argmax` per beat, each sequence's beats
    in step order) laid out as `task_metric` takes them: (n, C) logits for `last`, else
    (n, T, C) with zeros where no beat came; the argmax the same way (-1 where none came)."""
    item, data, argmax = np.asarray(item), np.asarray(data), np.asarray(argmax)
    C = data.shape[1] if data.ndim == 2 and data.shape[1] else 1
    if emit == "last":
        logits, am = np.zeros((n, C), np.int64), np.full(n, -1, np.int64)
        logits[item], am[item] = data, argmax
        return logits, am
    logits, am = np.zeros((n, T, C), np.int64), np.full((n, T), -1, np.int64)
    step = np.zeros(len(item), np.int64)
    for i in np.unique(item):
        where = np.flatnonzero(item == i)
        step[where] = np.arange(len(where))
    logits[item, step], am[item, step] = data, argmax
    return logits, am
