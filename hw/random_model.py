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
                 head_scheme: str | None = None) -> Model:
    """A model with random integers in the contract's formats. `emit`: "hidden" gives a
    model without a head (whatever `outputs` says); "last" or "every" sets Model.emit.
    `input_scheme` and `head_scheme`: the first layer's input matrix's and the head's own
    schemes (default `scheme`), as train's --input-quant and --head-quant give them."""
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
                 emit=None if emit == "hidden" else emit)


def random_inputs(rng: np.random.Generator, model: Model, shape: tuple) -> np.ndarray:
    """Input-format integers (*shape, input_size), with the format's extremes mixed in."""
    f = model.formats.input
    x = rng.integers(f.min, f.max + 1, size=shape + (model.input_size,))
    extreme = rng.random(x.shape) < 0.15
    return np.where(extreme, rng.choice([f.min, f.max], size=x.shape), x)


def extreme_inputs(model: Model, steps: int) -> np.ndarray:
    """(3, steps, inputs): every element +max; every element min; +max and min alternating
    over both the elements and the steps."""
    f, n = model.formats.input, model.input_size
    t, j = np.meshgrid(np.arange(steps), np.arange(n), indexing="ij")
    alt = np.where((t + j) % 2 == 0, f.max, f.min)
    return np.stack([np.full((steps, n), f.max), np.full((steps, n), f.min), alt])
