"""`digits`: scikit-learn's bundled 8x8 digits, each image 8 time steps of 8 pixels (divided by
16, the training range), a seeded shuffled 80/20 split; 15 % of each class of the 80 % are the
validation split (seeded). No download, no path."""

from __future__ import annotations

import numpy as np

from hw.errors import UserError

from .common import VALID_FRACTION, Origin, Split, Task, holdout, with_norm


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
    task = with_norm(Task("digits", "accuracy", "last", [str(i) for i in range(10)], 8,
                          tr, va, te), "range")
    task.origin = Origin("rows of sklearn.datasets.load_digits() (images, target)",
                         order[keep], order[held], order[n_train:])
    return task


def load(path, *, seed: int, seq_len: int) -> Task:
    if path is not None:
        raise UserError("task digits uses scikit-learn's bundled digits and takes no --data")
    return digits(seed)
