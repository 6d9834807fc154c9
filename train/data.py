"""Tasks: load a data set from a path into train/valid/test splits of sequences.

Every loader fails with one `UserError` line naming the path and the problem (missing, empty,
malformed). Features are real numbers; the trainer maps them into the input fixed-point format
with the per-feature `offset` and `scale` computed here from the training split (the model file's
`input_transform`). This module does not touch torch.

- `digits`: scikit-learn's bundled 8x8 digits, each image 8 time steps of 8 pixels (divided by
  16, the training range), a seeded shuffled 80/20 split; 15 % of each class of the 80 % are
  the validation split (seeded). No download, no path.
- `char`: character-level language model. A folder with ptb.char.{train,valid,test}.txt (symbols
  separated by spaces, `_` between words; lines are joined) or a plain text file / a folder with
  input.txt (split 90/5/5). One-hot inputs, next-symbol targets at every step, sequences of
  `seq_len` symbols with the state reset at each (as the hardware does); metric bits per symbol.
- `vowels`: UCI Japanese Vowels, sktime .ts files (12 channels, 7-29 frames, 9 speakers); 15 %
  of each speaker's training cases are the validation split.
- `fsdd`: Free Spoken Digit Dataset wav folder -> log-mel frames (numpy); takes 0-4 are the test
  set, takes 5-9 the validation split.
- `ts`, `sequences`: any UEA/UCR .ts problem, or the user's .npz (train/sequences.py).
"""

from __future__ import annotations

import os
import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw.errors import UserError

TASKS = ("digits", "char", "vowels", "fsdd", "ts", "sequences")


@dataclass
class Split:
    x: np.ndarray  # (N, T, F) float features, or (N, T) int symbol ids for one-hot tasks
    lengths: np.ndarray  # (N,) valid steps
    y: np.ndarray  # (N,) labels, or (N, T) next-symbol targets with -1 where padded

    def __len__(self) -> int:
        return len(self.x)


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

    def features(self, split: Split, idx) -> np.ndarray:
        """Real features (B, T, input_size) of the sequences idx of a split."""
        x = split.x[idx]
        if self.onehot:
            return np.eye(self.input_size, dtype=np.float64)[x]
        return x.astype(np.float64)


def _need_path(task: str, path) -> Path:
    if path is None:
        raise UserError(f"task {task} needs --data PATH (see docs/training.md)")
    p = Path(path)
    if not p.exists():
        raise UserError(f"data path {p} does not exist")
    return p


def _normalisation(split: Split, kind: str = "standard") -> tuple[np.ndarray, np.ndarray]:
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


def _with_norm(task: Task, kind: str = "standard") -> Task:
    task.offset, task.scale = _normalisation(task.train, kind)
    return task


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


# ---------------------------------------------------------------- digits

def digits(seed: int = 0) -> Task:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float64)  # (1797, 8, 8): rows are time steps
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], d.target[order].astype(np.int64)
    n_train = int(round(0.8 * len(x)))
    lengths = np.full(len(x), 8, dtype=np.int64)
    keep, held = holdout(y[:n_train], VALID_FRACTION, seed)  # model selection, progress
    tr = Split(x[keep], lengths[keep], y[keep])
    va = Split(x[held], lengths[held], y[held])
    te = Split(x[n_train:], lengths[n_train:], y[n_train:])
    # pixels 0..16 divided by 16 (the training range), as plain torch baselines do:
    # standardising blew the rarely-lit edge column up tenfold and saturated 1.9% of the inputs
    return _with_norm(Task("digits", "accuracy", "last", [str(i) for i in range(10)], 8,
                           tr, va, te), "range")


# ---------------------------------------------------------------- char

def _read_text(p: Path) -> str:
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{p} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UserError(f"cannot read {p}: {e.strerror}") from None
    if not text.strip():
        raise UserError(f"{p} is empty")
    return text


def _ptb_symbols(p: Path) -> list[str]:
    out = []
    for n, line in enumerate(_read_text(p).splitlines(), 1):
        toks = line.split()
        bad = next((t for t in toks if len(t) != 1), None)
        if bad is not None:
            raise UserError(f"{p} line {n}: token {bad[:20]!r} is not one character "
                            f"(PTB char format: characters separated by spaces)")
        out.extend(toks)
    return out


def _chop(ids: np.ndarray, seq_len: int, keep_tail: bool) -> Split:
    """Sequences of seq_len inputs and their next-symbol targets; a short tail is padded."""
    n_full = (len(ids) - 1) // seq_len
    rest = len(ids) - 1 - n_full * seq_len
    n = n_full + (1 if keep_tail and rest > 0 else 0)
    x = np.zeros((n, seq_len), dtype=np.int64)
    y = np.full((n, seq_len), -1, dtype=np.int64)
    lengths = np.full(n, seq_len, dtype=np.int64)
    for i in range(n):
        seg = ids[i * seq_len: (i + 1) * seq_len + 1]
        x[i, : len(seg) - 1], y[i, : len(seg) - 1] = seg[:-1], seg[1:]
        lengths[i] = len(seg) - 1
    return Split(x, lengths, y)


def char(path, seq_len: int = 100) -> Task:
    p = _need_path("char", path)
    ptb = [p / f"ptb.char.{s}.txt" for s in ("train", "valid", "test")]
    if p.is_dir() and any(f.exists() for f in ptb):
        missing = [f.name for f in ptb if not f.exists()]
        if missing:
            raise UserError(f"{p} has PTB char files but lacks {', '.join(missing)}")
        parts = [_ptb_symbols(f) for f in ptb]
    else:
        f = p / "input.txt" if p.is_dir() else p
        if not f.is_file():
            raise UserError(f"{p} has neither ptb.char.{{train,valid,test}}.txt nor input.txt")
        text = list(_read_text(f))
        a, b = int(0.9 * len(text)), int(0.95 * len(text))
        parts = [text[:a], text[a:b], text[b:]]
    if min(len(s) for s in parts) < 2:
        raise UserError(f"{p}: a split has fewer than 2 characters")
    vocab = sorted(set().union(*parts))
    index = {c: i for i, c in enumerate(vocab)}
    ids = [np.array([index[c] for c in s], dtype=np.int64) for s in parts]
    if len(ids[0]) <= seq_len:
        raise UserError(f"{p}: the training text is shorter than one sequence ({seq_len})")
    tr, va, te = _chop(ids[0], seq_len, False), _chop(ids[1], seq_len, True), \
        _chop(ids[2], seq_len, True)
    return Task("char", "bpc", "every", vocab, len(vocab), tr, va, te, onehot=True)


# ---------------------------------------------------------------- vowels

def _pad(seqs: list[np.ndarray], labels: np.ndarray) -> Split:
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    x = np.zeros((len(seqs), lengths.max(), seqs[0].shape[1]))
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    return Split(x, lengths, labels)


def vowels(path, seed: int = 0) -> Task:
    from .sequences import ts_task

    p = _need_path("vowels", path)
    files = [p / f"JapaneseVowels_{s}.ts" for s in ("TRAIN", "TEST")]
    for f in files:
        if not f.is_file():
            raise UserError(f"{f} does not exist (expected the UCI Japanese Vowels .ts files)")
    return ts_task("vowels", *files, seed, channels=12)


# ---------------------------------------------------------------- fsdd

FSDD_RATE, FSDD_WINDOW, FSDD_HOP, FSDD_MELS, FSDD_MAX_FRAMES = 8000, 256, 128, 16, 64
_FSDD_NAME = re.compile(r"([0-9])_([a-z]+)_([0-9]+)\.wav")


def _read_wav(f: Path) -> np.ndarray:
    try:
        with wave.open(os.fspath(f), "rb") as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, FSDD_RATE):
                raise UserError(f"{f} is {w.getnchannels()} channel(s), {8 * w.getsampwidth()} "
                                f"bit, {w.getframerate()} Hz; expected mono 16-bit 8000 Hz")
            n = w.getnframes()
            data = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise UserError(f"{f} is not a valid WAV file: {str(e) or type(e).__name__}") from None
    if len(data) != 2 * n:
        raise UserError(f"{f} is truncated: its header announces {n} samples, it holds "
                        f"{len(data) / 2:g}")
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0


def mel_filterbank(n_mels: int, n_fft: int, rate: int) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale from 0 to rate/2: (n_mels, n_fft//2+1)."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(0.0), mel(rate / 2), n_mels + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))


def log_mel(signal: np.ndarray) -> np.ndarray:
    """Frames (T, FSDD_MELS) of log mel energies, Hann window, at most FSDD_MAX_FRAMES."""
    if len(signal) < FSDD_WINDOW:
        signal = np.pad(signal, (0, FSDD_WINDOW - len(signal)))
    n = 1 + (len(signal) - FSDD_WINDOW) // FSDD_HOP
    n = min(n, FSDD_MAX_FRAMES)
    idx = np.arange(FSDD_WINDOW)[None, :] + FSDD_HOP * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(signal[idx] * np.hanning(FSDD_WINDOW), axis=1)) ** 2
    return np.log(spec @ mel_filterbank(FSDD_MELS, FSDD_WINDOW, FSDD_RATE).T + 1e-6)


def fsdd(path) -> Task:
    p = _need_path("fsdd", path)
    if not p.is_dir():
        raise UserError(f"{p} is not a folder of FSDD .wav recordings")
    files = sorted(f for f in p.iterdir() if f.suffix == ".wav")
    if not files:
        raise UserError(f"{p} holds no .wav files")
    split = {"train": ([], []), "valid": ([], []), "test": ([], [])}
    for f in files:
        m = _FSDD_NAME.fullmatch(f.name)
        if m is None:
            raise UserError(f"{f.name}: FSDD files are named DIGIT_SPEAKER_TAKE.wav")
        take = int(m.group(3))
        which = "test" if take < 5 else "valid" if take < 10 else "train"
        split[which][0].append(log_mel(_read_wav(f)))
        split[which][1].append(int(m.group(1)))
    for which, (seqs, _) in split.items():
        if not seqs:
            what = "validation" if which == "valid" else which
            raise UserError(f"{p} has no {what} recordings (takes 0-4 test, 5-9 "
                            f"validation, 10-49 train)")
    tr, va, te = (_pad(s, np.array(y, dtype=np.int64)) for s, y in split.values())
    return _with_norm(Task("fsdd", "accuracy", "last", [str(i) for i in range(10)],
                           FSDD_MELS, tr, va, te))


def load(task: str, path=None, *, seed: int = 0, seq_len: int = 100) -> Task:
    if task == "digits":
        if path is not None:
            raise UserError("task digits uses scikit-learn's bundled digits and takes no --data")
        return digits(seed)
    if task == "char":
        return char(path, seq_len)
    if task == "vowels":
        return vowels(path, seed)
    if task == "fsdd":
        return fsdd(path)
    if task in ("ts", "sequences"):
        from . import sequences

        return sequences.ts(path, seed) if task == "ts" else sequences.npz(path, seed)
    raise UserError(f"task {task!r} is unknown; tasks are {', '.join(TASKS)}")


if __name__ == "__main__":  # python -m train.data download fsdd|vowels|ptb-char DIR
    import sys

    from .download import main as _download

    if sys.argv[1:2] != ["download"]:
        print("usage: python -m train.data download fsdd|vowels|ptb-char DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(_download(sys.argv[2:]))
