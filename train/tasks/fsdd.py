"""`fsdd`: the Free Spoken Digit Dataset's wav folder -> log-mel frames (numpy); takes 0-4 are
the test set, takes 5-9 the validation split."""

from __future__ import annotations

import os
import re
import wave
from pathlib import Path

import numpy as np

from hw.errors import UserError

from .common import Origin, Task, need_path, pad, with_norm

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
    p = need_path("fsdd", path)
    if not p.is_dir():
        raise UserError(f"{p} is not a folder of FSDD .wav recordings")
    files = sorted(f for f in p.iterdir() if f.suffix == ".wav")
    if not files:
        raise UserError(f"{p} holds no .wav files")
    split = {"train": ([], []), "valid": ([], []), "test": ([], [])}
    where = {"train": [], "valid": [], "test": []}  # indices into `files`
    for i, f in enumerate(files):
        m = _FSDD_NAME.fullmatch(f.name)
        if m is None:
            raise UserError(f"{f.name}: FSDD files are named DIGIT_SPEAKER_TAKE.wav")
        take = int(m.group(3))
        which = "test" if take < 5 else "valid" if take < 10 else "train"
        split[which][0].append(log_mel(_read_wav(f)))
        split[which][1].append(int(m.group(1)))
        where[which].append(i)
    for which, (seqs, _) in split.items():
        if not seqs:
            what = "validation" if which == "valid" else which
            raise UserError(f"{p} has no {what} recordings (takes 0-4 test, 5-9 "
                            f"validation, 10-49 train)")
    tr, va, te = (pad(s, np.array(y, dtype=np.int64)) for s, y in split.values())
    task = with_norm(Task("fsdd", "accuracy", "last", [str(i) for i in range(10)],
                          FSDD_MELS, tr, va, te))
    task.origin = Origin(f"the .wav files of {p} sorted by name (names)",
                         *(np.array(where[k], dtype=np.int64) for k in ("train", "valid", "test")),
                         names=[f.name for f in files])
    return task


def load(path, *, seed: int, seq_len: int) -> Task:
    return fsdd(path)
