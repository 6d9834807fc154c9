"""Sequence classification from the user's own files: UEA/UCR `.ts` and a plain `.npz`.

- `ts`: any UEA/UCR multivariate (or univariate) classification problem, `--data` naming the
  folder that holds NAME_TRAIN.ts and NAME_TEST.ts, or either file, or the prefix `DIR/NAME`.
  Cases may differ in length; within a case every channel has the same length (a file where
  they differ is "ragged" and refused as such).
- `sequences`: `--data FILE.npz` with `x` (N, T, F) floats (or (sum of T_i, F) rows of all
  sequences concatenated, with `lengths`), `y` (N,) integer or string labels, optional
  `lengths` (N,), optional `split` (N,) of "train"/"valid"/"test" and optional `classes`.
  Without a split, a seeded stratified 70/15/15 rule. Object arrays (a saved Python list of
  arrays) are refused: loading them would unpickle, which can run code; `save_npz` writes a
  list of arrays in the concatenated form.

Both carve a validation split out of the training cases when the file has none: it chooses
the epoch to keep and shows progress; the test split is only measured at the end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hw.errors import UserError
from hw.fileio import atomic_write_npz

from .data import (
    VALID_FRACTION,
    Split,
    Task,
    _need_path,
    _pad,
    _read_text,
    _with_norm,
    holdout,
)


def _subset(seqs: list, y: np.ndarray, idx) -> Split:
    return _pad([seqs[i] for i in idx], y[idx])


# ---------------------------------------------------------------- UEA/UCR .ts

def read_ts(f: Path, channels: int | None = None):
    """(cases as (T, channels) arrays, labels, declared class labels) of a .ts file."""
    seqs, labels, classes, in_data = [], [], [], False
    for n, line in enumerate(_read_text(f).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        low = line.lower()
        if low.startswith("@timestamps") and low.split()[-1] == "true":
            raise UserError(f"{f} line {n}: time-stamped .ts data ((t,v) pairs) is not "
                            f"supported; export the values only")
        if low.startswith("@dimensions") and channels is None:
            try:
                channels = int(line.split()[1])
            except (IndexError, ValueError):
                raise UserError(f"{f} line {n}: @dimensions needs a number") from None
        if low.startswith("@classlabel"):
            classes = line.split()[2:]
        elif low == "@data":
            in_data = True
        elif in_data:
            *chans, label = line.split(":")
            if not chans:
                raise UserError(f"{f} line {n}: no channel values before the label")
            rows = [c.split(",") for c in chans]
            if len({len(r) for r in rows}) > 1:
                raise UserError(f"{f} line {n}: ragged case: its channels have "
                                f"{', '.join(str(len(r)) for r in rows)} values; every "
                                f"channel of a case needs the same length")
            try:
                arr = np.array([[float(v) for v in r] for r in rows])
            except ValueError:
                raise UserError(f"{f} line {n}: a channel holds a value that is not a "
                                f"number") from None
            if not np.isfinite(arr).all():
                raise UserError(f"{f} line {n}: missing or infinite values ('?' or NaN); "
                                f"fill them before training")
            want = channels or (seqs[0].shape[1] if seqs else arr.shape[0])
            if arr.shape[0] != want:
                raise UserError(f"{f} line {n}: expected {want} channels of equal length, "
                                f"got {len(chans)}")
            seqs.append(arr.T)
            labels.append(label.strip())
    if not seqs:
        raise UserError(f"{f} holds no @data lines")
    return seqs, labels, classes


def _ts_files(p: Path) -> tuple[Path, Path]:
    if p.is_dir():
        found = sorted(p.glob("*_TRAIN.ts"))
        if len(found) != 1:
            raise UserError(f"{p} holds {len(found)} *_TRAIN.ts files; name one of them "
                            f"(or DIR/NAME) with --data")
        stem = str(found[0])[: -len("_TRAIN.ts")]
    else:
        s = str(p)
        stem = s[: -len("_TRAIN.ts")] if s.endswith("_TRAIN.ts") else \
            s[: -len("_TEST.ts")] if s.endswith("_TEST.ts") else s
    files = Path(stem + "_TRAIN.ts"), Path(stem + "_TEST.ts")
    for f in files:
        if not f.is_file():
            raise UserError(f"{f} does not exist (a UEA/UCR problem comes as NAME_TRAIN.ts and "
                            f"NAME_TEST.ts)")
    return files


def ts_task(name: str, train_file: Path, test_file: Path, seed: int,
            channels: int | None = None) -> Task:
    s_tr, l_tr, classes = read_ts(train_file, channels)
    s_te, l_te, _ = read_ts(test_file, channels or s_tr[0].shape[1])
    classes = classes or sorted(set(l_tr))
    index = {c: i for i, c in enumerate(classes)}
    bad = next((c for c in l_tr + l_te if c not in index), None)
    if bad is not None:
        raise UserError(f"{train_file.parent}: label {bad!r} is not among the @classLabel "
                        f"values {classes}")
    y_tr = np.array([index[c] for c in l_tr], dtype=np.int64)
    y_te = np.array([index[c] for c in l_te], dtype=np.int64)
    keep, held = holdout(y_tr, VALID_FRACTION, seed)
    return _with_norm(Task(name, "accuracy", "last", classes, s_tr[0].shape[1],
                           _subset(s_tr, y_tr, keep), _subset(s_tr, y_tr, held),
                           _pad(s_te, y_te)))


def ts(path, seed: int = 0) -> Task:
    p = Path(path) if path is not None else None
    if p is None or not (p.exists() or Path(str(p) + "_TRAIN.ts").exists()):
        _need_path("ts", path)
    return ts_task("ts", *_ts_files(p), seed)


# ---------------------------------------------------------------- .npz

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
    f = _need_path("sequences", path)
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
    parts = _split_rule(arrays.get("split"), labels, seed, f)
    tr, va, te = (_subset(seqs, labels, idx) for idx in parts)
    return _with_norm(Task("sequences", "accuracy", "last", classes, seqs[0].shape[1],
                           tr, va, te))


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
