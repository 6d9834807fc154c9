"""Input sequences for the testbenches and the generated designs they run on.

`sequences` mixes random sequences (hw.random_model.random_inputs, extremes included), the
input format's extreme patterns (all +max, all -min, alternating) and optionally one long
sequence; `generate` writes model.json, top.v and manifest.json into a folder with the real
generator (`python -m hw verilog`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hw.modelfile import Model, save
from hw.random_model import extreme_inputs, random_inputs


def sequences(model: Model, rng: np.random.Generator, *, count: int, max_len: int,
              extreme_len: int = 6, long_len: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x (N, T, beat_inputs) zero-padded, lengths (N,)): `count` random sequences of 1..max_len
    steps, the three extreme patterns, then (with long_len) one random sequence that long."""
    parts = [(x, len(x)) for x in (random_inputs(rng, model, (int(L),))
                                    for L in rng.integers(1, max_len + 1, count))]
    if extreme_len:
        parts += [(x, extreme_len) for x in extreme_inputs(model, extreme_len)]
    if long_len:
        parts.append((random_inputs(rng, model, (long_len,)), long_len))
    tmax = max(L for _, L in parts)
    x = np.zeros((len(parts), tmax, model.beat_inputs), dtype=np.int64)
    for i, (xi, L) in enumerate(parts):
        x[i, :L] = xi
    return x, np.array([L for _, L in parts], dtype=np.int64)


def generate(model: Model | None, folder, parallel, storage: str = "memory",
             simd: int = 1, ports: str = "native") -> Path:
    """model.json (when a model is given), top.v and manifest.json in `folder`, written by
    the generator's stage (hw.gen.cli.generate_run: its checks run and the design hash is
    recorded, as `make verilog` does)."""
    from hw.gen.cli import generate_run
    from hw.gen.options import GenerateOptions

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if model is not None:
        save(model, folder / "model.json")
    multiplexed = parallel not in ("unrolled", "auto")
    generate_run(folder / "model.json",
                 GenerateOptions(parallel=parallel, simd=simd if multiplexed else None,
                                 storage=storage if parallel != "unrolled" else None,
                                 ports=ports), folder, say=lambda line: None)
    return folder
