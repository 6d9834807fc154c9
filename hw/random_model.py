"""Random, valid models for tests and benchmarks (any cell, scheme, size and formats)."""

from __future__ import annotations

import numpy as np

from . import schemes
from .modelfile import GATES, Head, Layer, Matrix, Model
from .numerics import Formats


def random_matrix(rng: np.random.Generator, scheme: str, rows: int, cols: int,
                  levels: int = 3, density: float = 0.6) -> Matrix:
    lo, hi = schemes.code_range(scheme, levels)
    codes = rng.integers(lo, hi + 1, size=(rows, cols))
    if scheme == "binary":
        codes = np.where(codes == 0, 1, codes)
    else:
        codes = np.where(rng.random((rows, cols)) < density, codes, 0)
    if scheme in schemes.PER_MATRIX_SCALE:
        scale = np.full(rows, int(rng.integers(-4, 0)))
    elif schemes.int_bits(scheme) is not None:
        scale = rng.integers(-schemes.int_bits(scheme) - 3, -schemes.int_bits(scheme) + 1, rows)
    else:
        scale = rng.integers(-4, 0, rows)
    return Matrix(scheme, codes.astype(np.int64), scale.astype(np.int64),
                  levels if scheme == "exponential" else 1)


def random_model(*, cell: str = "gru", scheme: str = "ternary", input_size: int = 4,
                 hidden_size: int = 8, num_layers: int = 1, outputs: int | None = 3,
                 activation: str = "pwl", seed: int = 0, formats: Formats | None = None,
                 levels: int = 3, emit: str | None = None, input_scheme: str | None = None,
                 head_scheme: str | None = None, onehot: bool = False) -> Model:
    """A model with random integers in the contract's formats. `emit`: "hidden" gives a
    model without a head (whatever `outputs` says); "last" or "every" sets Model.emit.
    `input_scheme` and `head_scheme`: the first layer's input matrix's and the head's own
    schemes (default `scheme`), as train's --input-quant and --head-quant give them.
    `onehot`: the input is one-hot over input_size symbols (a beat is a token index)."""
    if emit == "hidden":
        outputs = None
    rng = np.random.default_rng(seed)
    fmts = Formats() if formats is None else formats
    g, pre = GATES[cell], fmts.preact
    layers = []
    for i in range(num_layers):
        cols = input_size if i == 0 else hidden_size
        layers.append(Layer(
            random_matrix(rng, (input_scheme or scheme) if i == 0 else scheme,
                          g * hidden_size, cols, levels),
            random_matrix(rng, scheme, g * hidden_size, hidden_size, levels),
            rng.integers(pre.min // 4, pre.max // 4 + 1, g * hidden_size),
            rng.integers(pre.min // 4, pre.max // 4 + 1, g * hidden_size),
        ))
    head = None
    if outputs:
        out = fmts.output
        head = Head(random_matrix(rng, head_scheme or scheme, outputs, hidden_size, levels),
                    rng.integers(out.min // 8, out.max // 8 + 1, outputs))
    return Model(cell, input_size, hidden_size, activation, fmts, layers, head,
                 meta={"source": f"random_model(seed={seed})"},
                 emit=None if emit == "hidden" else emit,
                 input_onehot=input_size if onehot else None)


def random_inputs(rng: np.random.Generator, model: Model, shape: tuple) -> np.ndarray:
    """Input beats (*shape, beat_inputs): input-format integers with the format's extremes
    mixed in, or a one-hot input's tokens with the first and last symbol mixed in."""
    lo, hi = model.input_range
    x = rng.integers(lo, hi + 1, size=shape + (model.beat_inputs,))
    extreme = rng.random(x.shape) < 0.15
    return np.where(extreme, rng.choice([lo, hi], size=x.shape), x)


def extreme_inputs(model: Model, steps: int) -> np.ndarray:
    """(3, steps, beat_inputs): every element +max; every element min; +max and min
    alternating over both the elements and the steps (a one-hot input: the last symbol, the
    first, and both alternating)."""
    (lo, hi), n = model.input_range, model.beat_inputs
    t, j = np.meshgrid(np.arange(steps), np.arange(n), indexing="ij")
    alt = np.where((t + j) % 2 == 0, hi, lo)
    return np.stack([np.full((steps, n), hi), np.full((steps, n), lo), alt])
