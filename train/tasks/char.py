"""`char`: character-level language model. A folder with ptb.char.{train,valid,test}.txt
(symbols separated by spaces, `_` between words; lines are joined) or a plain text file / a
folder with input.txt (split 90/5/5). One-hot inputs, next-symbol targets at every step,
sequences of `seq_len` symbols with the state reset at each (as the hardware does); metric bits
per symbol."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hw.errors import UserError

from .common import Split, Task, need_path, read_text


def _ptb_symbols(p: Path) -> list[str]:
    out = []
    for n, line in enumerate(read_text(p).splitlines(), 1):
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
    p = need_path("char", path)
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
        text = list(read_text(f))
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


def load(path, *, seed: int, seq_len: int) -> Task:
    return char(path, seq_len)
