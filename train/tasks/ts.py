"""UEA/UCR `.ts` classification problems: `ts` (any problem) and `vowels` (UCI Japanese Vowels).

- `ts`: `--data` names the folder that holds NAME_TRAIN.ts and NAME_TEST.ts, or either file, or
  the prefix `DIR/NAME`. Cases may differ in length; within a case every channel has the same
  length (a file where they differ is "ragged" and refused as such).
- `vowels`: the sktime .ts files of UCI Japanese Vowels (12 channels, 7-29 frames, 9 speakers).

Both carve a validation split (15 % of each class of the training cases, seeded) out of the
training file: it chooses the epoch to keep and shows progress; the test file is only measured
at the end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hw.errors import UserError

from .common import (
    VALID_FRACTION,
    Origin,
    Task,
    holdout,
    need_path,
    pad,
    read_text,
    subset,
    two_classes,
    with_norm,
)


def read_ts(f: Path, channels: int | None = None):
    """(cases as (T, channels) arrays, labels, declared class labels) of a .ts file."""
    seqs, labels, classes, in_data = [], [], [], False
    for n, line in enumerate(read_text(f).splitlines(), 1):
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
    two_classes(y_tr, classes, str(train_file))
    keep, held = holdout(y_tr, VALID_FRACTION, seed)
    task = with_norm(Task(name, "accuracy", "last", classes, s_tr[0].shape[1],
                          subset(s_tr, y_tr, keep), subset(s_tr, y_tr, held),
                          pad(s_te, y_te)))
    task.origin = Origin(f"cases of {train_file.name} in file order (train, valid) and of "
                         f"{test_file.name} (test)", keep, held, np.arange(len(y_te)))
    return task


def ts(path, seed: int = 0) -> Task:
    p = Path(path) if path is not None else None
    if p is None or not (p.exists() or Path(str(p) + "_TRAIN.ts").exists()):
        need_path("ts", path)
    return ts_task("ts", *_ts_files(p), seed)


def vowels(path, seed: int = 0) -> Task:
    p = need_path("vowels", path)
    files = [p / f"JapaneseVowels_{s}.ts" for s in ("TRAIN", "TEST")]
    for f in files:
        if not f.is_file():
            raise UserError(f"{f} does not exist (expected the UCI Japanese Vowels .ts files)")
    return ts_task("vowels", *files, seed, channels=12)


def load_ts(path, *, seed: int, seq_len: int) -> Task:
    return ts(path, seed)


def load_vowels(path, *, seed: int, seq_len: int) -> Task:
    return vowels(path, seed)
