"""The output beats of a generated top: what the reference model says they are, and the
comparison of a received beat with them. The one home of both.

A top streams, per `emit`: `hidden` (the top layer's h at every step), `every` (the head's
logits at every step) or `last` (the logits at each sequence's last step), each beat with the
argmax of its logits (first of equals) when there is a head and `last` = 1 on a sequence's last
beat. `reference_outputs` runs the reference model over a padded batch; `expected` cuts that into
each sequence's beats; `differences` names every unit of a received beat that differs and
`describe` says where (sequence, step, unit, expected, got). The cocotb checker (sim/expect.py),
the board host (hw/board/host.py), the amaranth.sim tests and the trainer's export all use these.
Pure numpy; must not import torch, amaranth or sim/.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .modelfile import EMITS
from .reference import Reference


def _check_emit(emit: str) -> None:
    if emit not in EMITS:
        raise ValueError(f"emit must be one of {EMITS}, not {emit!r}")


def reference_outputs(ref: Reference, xs, lengths, emit: str, *, chunk: int = 256,
                      dtype=np.int64) -> np.ndarray:
    """The reference model's outputs for a padded batch xs (N, T, beat_inputs) of sequences with
    `lengths` valid steps: (N, T, H) hidden states for `hidden`, (N, T, C) logits for `every`
    (padded steps computed on the padding, as a batched hardware-mode model does), (N, C) logits
    at each sequence's last step for `last`. Run `chunk` sequences at a time."""
    _check_emit(emit)
    xs, lengths = np.asarray(xs, dtype=np.int64), np.asarray(lengths)
    out = []
    for i in range(0, len(xs), chunk):
        h = ref.run(xs[i: i + chunk])
        if emit == "hidden":
            out.append(h.astype(dtype))
        elif emit == "every":
            out.append(ref.head(h).astype(dtype))
        else:
            out.append(ref.head(h[np.arange(len(h)), lengths[i: i + chunk] - 1]).astype(dtype))
    if not out:
        width = ref.model.hidden_size if emit == "hidden" else ref.model.head.weight.shape[0]
        shape = (0, width) if emit == "last" else (0, xs.shape[1], width)
        return np.zeros(shape, dtype=dtype)
    return np.concatenate(out)


@dataclass
class Beats:
    """One sequence's expected output beats, in the order the top sends them."""

    data: np.ndarray  # (beats, n): hidden states or logits
    argmax: np.ndarray | None  # (beats,), or None without a head
    last: np.ndarray  # (beats,) 0/1
    steps: np.ndarray  # (beats,) the input step each beat belongs to


def expected(ref: Reference, sequences, emit: str, *, closed=None) -> list[Beats]:
    """Each sequence's (T_i, beat_inputs) expected beats. A sequence not `closed` (its last step is
    never marked: a reset or the next `first` cuts it) has no beat with last = 1, and under
    `last` no beat at all. The model is causal, so running the batch padded changes no step."""
    _check_emit(emit)
    sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
    closed = [True] * len(sequences) if closed is None else list(closed)
    if len(closed) != len(sequences):
        raise ValueError(f"{len(closed)} closed flags for {len(sequences)} sequences")
    if not sequences:
        return []
    lengths = np.array([len(s) for s in sequences])
    if lengths.min() < 1:
        raise ValueError("every sequence needs at least one step")
    xs = np.zeros((len(sequences), lengths.max(), ref.model.beat_inputs), dtype=np.int64)
    for i, s in enumerate(sequences):
        xs[i, :len(s)] = s
    outs = reference_outputs(ref, xs, lengths, emit)
    res = []
    for i, (T, shut) in enumerate(zip(lengths, closed, strict=True)):
        if emit == "last":
            data, steps = (outs[i: i + 1], np.array([T - 1])) if shut else \
                (outs[i: i], np.zeros(0, dtype=np.int64))
        else:
            data, steps = outs[i, :T], np.arange(T)
        last = np.zeros(len(data), dtype=np.int64)
        if shut and len(data):
            last[-1] = 1
        argmax = None if emit == "hidden" else np.argmax(data, axis=-1)
        res.append(Beats(data, argmax, last, steps))
    return res


def differences(exp: Beats, k: int, data, argmax, last) -> list[tuple[str, int, int]]:
    """(unit, expected, got) for every unit of a received beat that differs from expected beat
    k: `data[u]` per element, `data count` when the beat has another number of elements,
    `argmax` (when there is a head) and `last`."""
    data = [int(v) for v in data]
    want = exp.data[k]
    if len(data) != len(want):
        units = [("data count", len(want), len(data))]
    else:
        units = [(f"data[{u}]", int(e), g) for u, (e, g) in enumerate(zip(want, data, strict=True))]
    if exp.argmax is not None:
        units.append(("argmax", int(exp.argmax[k]), None if argmax is None else int(argmax)))
    units.append(("last", int(exp.last[k]), int(last)))
    return [(unit, e, g) for unit, e, g in units if e != g]


def describe(sequence, step: int, unit: str, expected_value, got) -> str:
    """The line a failed comparison prints: where, and both values."""
    return f"sequence {sequence}, step {step}, unit {unit}: expected {expected_value}, got {got}"
