"""`sequences`: sequence classification from the user's own `.npz`.

`--data FILE.npz` with `x` (N, T, F) floats (or (sum of T_i, F) rows of all sequences
concatenated, with `lengths`), `y` (N,) integer or string labels, optional `lengths` (N,),
optional `split` (N,) of "train"/"valid"/"test" and optional `classes`. Without a split, a
seeded stratified 70/15/15 rule. Object arrays (a saved Python list of arrays) are refused:
loading them would unpickle, which can run code; `save_npz` writes a list of arrays in the
concatenated form.

Without a `valid` split the validation split is carved out of the training cases: it chooses
the epoch to keep and shows progress; the test split is only measured at the end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hw.errors import UserError
from hw.fileio import atomic_write_npz

from .common import VALID_FRACTION, Origin, Task, holdout, need_path, subset, two_classes, with_norm


def _array(z, key: str, f: Path):
    try:
        return z[key]
    except ValueError:
        raise UserError(f"{f}: {key} is an object array (a saved list of arrays?); loading it "
                        f"would unpickle, which can run code. Save the sequences padded as "
                        f"x (N, T, F) or concatenated as x (sum of lengths, F), with "
                        f"lengths (N,): train.sequences.save_npz does that") from None


def save_npz(path, xs, y, *, split=None, classes=None) -> None:
    """Write sequences of different lengths (a list of (T_i, F) arrays) as `--task sequences`
    reads them, without object arrays: x the rows concatenated, lengths, y, and the optional
    split (N,) of train/valid/test and classes."""
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    if not xs or any(x.ndim != 2 or x.shape[1] != xs[0].shape[1] or not len(x) for x in xs):
        raise UserError("save_npz: xs must be a non-empty list of (T_i, F) arrays, T_i >= 1, "
                        "with the same F")
    arrays = {"x": np.concatenate(xs), "lengths": np.array([len(x) for x in xs]),
              "y": np.asarray(y)}
    if split is not None:
        arrays["split"] = np.asarray(split, dtype=str)
    if classes is not None:
        arrays["classes"] = np.asarray(classes, dtype=str)
    atomic_write_npz(path, compressed=True, **arrays)


def npz(path, seed: int = 0) -> Task:
    f = need_path("sequences", path)
    try:
        z = np.load(f, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"{f} is not a readable .npz file ({type(e).__name__})") from None
    if not hasattr(z, "files"):
        raise UserError(f"{f} holds one array; expected an .npz with x and y")
    with z:
        missing = [k for k in ("x", "y") if k not in z.files]
        if missing:
            raise UserError(f"{f} lacks {' and '.join(missing)} (keys: {', '.join(z.files)})")
        arrays = {k: _array(z, k, f) for k in z.files}
    x, y = arrays["x"], arrays["y"]
    if x.dtype.kind not in "fiu":
        raise UserError(f"{f}: x holds {x.dtype}, not numbers")
    if y.ndim != 1:
        raise UserError(f"{f}: y has shape {y.shape}; one label per sequence (N,)")
    n = len(y)
    lengths = arrays.get("lengths")
    if x.ndim == 2 and lengths is not None:  # concatenated rows
        if lengths.shape != (n,) or lengths.min(initial=1) < 1 or lengths.sum() != len(x):
            raise UserError(f"{f}: x has {len(x)} rows; lengths must be {n} positive counts "
                            f"summing to that")
        seqs = np.split(x.astype(np.float64), np.cumsum(lengths)[:-1])
    elif x.ndim == 3:
        if len(x) != n:
            raise UserError(f"{f}: x has {len(x)} sequences, y {n} labels")
        if lengths is None:
            lengths = np.full(n, x.shape[1])
        if lengths.shape != (n,) or lengths.dtype.kind not in "iu" or \
                lengths.min(initial=1) < 1 or lengths.max(initial=1) > x.shape[1]:
            raise UserError(f"{f}: lengths must be {n} integers from 1 to {x.shape[1]}")
        seqs = [x[i, : lengths[i]].astype(np.float64) for i in range(n)]
    else:
        raise UserError(f"{f}: x has shape {x.shape}; expected (N, T, F), or (rows, F) with "
                        f"lengths")
    bad = next((i for i, s in enumerate(seqs) if not np.isfinite(s).all()), None)
    if bad is not None:
        raise UserError(f"{f}: sequence {bad} holds NaN or infinite values")
    if y.dtype.kind not in "iuU":
        raise UserError(f"{f}: y holds {y.dtype}; labels are integers or strings")
    classes = [str(c) for c in arrays["classes"]] if "classes" in arrays else \
        [str(c) for c in np.unique(y)]
    if y.dtype.kind == "U" or "classes" not in arrays:
        index = {c: i for i, c in enumerate(classes)}
        bad = next((c for c in y if str(c) not in index), None)
        if bad is not None:
            raise UserError(f"{f}: label {bad!r} is not among classes {classes}")
        labels = np.array([index[str(c)] for c in y], dtype=np.int64)
    else:
        labels = y.astype(np.int64)
        if labels.min() < 0 or labels.max() >= len(classes):
            raise UserError(f"{f}: labels must lie in 0..{len(classes) - 1} (classes)")
    two_classes(labels, classes, f"{f}: y")
    parts = _split_rule(arrays.get("split"), labels, seed, f)
    two_classes(labels[parts[0]], classes, f"{f}: the training split")
    tr, va, te = (subset(seqs, labels, idx) for idx in parts)
    task = with_norm(Task("sequences", "accuracy", "last", classes, seqs[0].shape[1],
                          tr, va, te))
    task.origin = Origin(f"cases of {f.name} (x, y) in file order", *parts)
    return task


def _split_rule(split, labels: np.ndarray, seed: int, f: Path):
    """Index arrays (train, valid, test): the file's `split`, else a seeded 70/15/15."""
    n = len(labels)
    if split is None:
        rest, test = holdout(labels, 0.15, seed + 1)
        keep, valid = holdout(labels[rest], 0.15 / 0.85, seed)
        return rest[keep], rest[valid], test
    names = np.asarray(split).astype(str)
    if names.shape != (n,) or not set(names) <= {"train", "valid", "test"}:
        raise UserError(f"{f}: split must hold {n} values, each train, valid or test")
    train, valid, test = (np.flatnonzero(names == s) for s in ("train", "valid", "test"))
    if not len(train) or not len(test):
        raise UserError(f"{f}: split has no {'train' if not len(train) else 'test'} cases")
    if not len(valid):
        keep, held = holdout(labels[train], VALID_FRACTION, seed)
        train, valid = train[keep], train[held]
    return train, valid, test


def load(path, *, seed: int, seq_len: int) -> Task:
    return npz(path, seed)
