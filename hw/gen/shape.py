"""The shape of a reloadable design: what its circuit fixes, so that any model of that shape
loads into it (docs/hardware.md, "Reloadable weights").

A fixed design takes several constants from its weights (hw.gen.lanes.LanePlan): the code
alphabet, the lane and finalizer widths, the few shifts its finalizers select among, each
pass's fraction F'. A reloadable design (`--reloadable`) takes them from its shape instead:

- the alphabet from the schemes, not the weights (ternary codes are 2 bits even where no
  weight is 0, exponential codes cover all its levels, intN codes N bits);
- each half sum's shift u (first halves and second halves apart) a select among a window of
  shifts: the model's own where every matrix of that half has one scale (binary, ternary:
  the trainer's level exponent, fixed by the matrix's size, so a retrained model has the
  same), else the span of the model's shifts SHAPE_MARGIN either way (row scales up to that
  much finer or coarser), and each pass's F' SHAPE_MARGIN bits finer than the model's (a
  finer alignment is exact: rounding half up from it gives the same integers,
  docs/numerics.md); a window of more than four shifts is a barrel shifter over its width;
- the lane sums at their worst case over any weights of those schemes and any inputs of the
  formats, and the row info's bias fields for any biases of the formats, so that nothing of
  the shape can overflow them.

A later model loads when its structure is the shape's (cell, sizes, layers, activation,
formats, schemes, one-hot input, outputs, emit: `structure`) and its rows, aligned to the
shape's F', need no finer fraction and no longer shift; else hw.gen.loadport.ShapeMismatch
names what does not fit. The design's fingerprint is a CRC-32 of the shape's canonical JSON,
with the folding and placement it was built with (hw.gen.topplan); the board reports it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass

from .. import schemes
from ..modelfile import Model
from ..reference import width_for
from .lanes import Alphabet, make_lane_plan, row_halves
from .loadport import ShapeMismatch
from .plan import Pass, col_formats, realign, signed_bits

SHAPE_MARGIN = 1  # F' finer than the model's by this many bits; shift windows this much wider


@dataclass(frozen=True)
class LaneShape:
    """One engine's shape: what hw.gen.lanes.make_lane_plan takes from it (`shape=`)."""

    multiply: bool
    K: int
    binary: bool
    code_bits: int
    acc_bits: int
    sum_bits: int
    ua_values: tuple[int, ...]  # the shifts of first halves the finalizers take
    ub_values: tuple[int, ...]  # of second halves
    res_bits: int
    fracs: tuple[int, ...]  # per pass of this engine: F'
    # a one-hot input's looked-up matrix: (multiply, K, binary, code_bits, value bits)
    lookup: tuple[bool, int, bool, int, int] | None = None

    @property
    def alphabets(self) -> tuple[Alphabet, Alphabet | None]:
        look = None if self.lookup is None else Alphabet(*self.lookup[:4])
        return Alphabet(self.multiply, self.K, self.binary, self.code_bits), look

    @property
    def lookup_value_bits(self) -> int | None:
        return None if self.lookup is None else self.lookup[4]

    @property
    def u_bits(self) -> int:
        return max(1, max(self.ua_values + self.ub_values).bit_length())

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LaneShape:
        d = dict(d)
        for k in ("fracs", "ua_values", "ub_values"):
            d[k] = tuple(d[k])
        d["lookup"] = None if d.get("lookup") is None else tuple(d["lookup"])
        return cls(**d)


def _matrices(model: Model, k: int):
    """(the matrix before the split, the one after) of pass k (the head: its weight twice)."""
    if k < model.num_layers:
        ly = model.layers[k]
        return ly.w_ih, ly.w_hh
    return model.head.weight, model.head.weight


def _max_t(m) -> int:
    """The largest |t| a matrix of this scheme can give (hw.gen.lanes._split_half): the code
    itself for intN, 2**(levels - 1) for exponential, 1 for the rest."""
    n = schemes.int_bits(m.scheme)
    if n is not None:
        return (1 << (n - 1)) - 1
    return 1 << (m.levels - 1) if m.scheme == "exponential" else 1


def scheme_alphabet(mats: list, multiply: bool) -> Alphabet:
    """The alphabet that codes every weight the schemes of `mats` allow."""
    if multiply:
        return Alphabet(True, 1, False, max([2] + [signed_bits(_max_t(m)) for m in mats]))
    K = max(m.levels if m.scheme == "exponential" else 1 for m in mats)
    binary = all(m.scheme == "binary" for m in mats)
    return Alphabet(False, K, binary, 1 if binary else 1 + K.bit_length())


def _lane_worst(maxt: int, fmts) -> int:
    """Bits of a lane's half sum at its worst: every weight at its largest, every element at
    its format's largest magnitude."""
    hi = sum(maxt * max(-f.min, f.max) for f in fmts)
    return width_for(-hi, hi)


def lane_shape(model: Model, ks: list[int], passes: list[Pass], multiply: bool,
               margin: int = SHAPE_MARGIN) -> LaneShape:
    """The shape of the engine that runs passes `ks` of `model` (their `passes`, as
    hw.gen.plan.make_passes gives them), built with this model. A half whose matrices all
    have one scale per matrix (binary, ternary: the trainer's level exponent, fixed by the
    matrix's size, train/cells.py) keeps its shifts exactly; `margin` widens the others', and
    refines F' where any does."""
    firsts = [_matrices(model, k)[0] for k, p in zip(ks, passes, strict=True)
              if p.split < p.cols]
    seconds = [_matrices(model, k)[1] for k in ks]
    walked = [m for k, p in zip(ks, passes, strict=True)
              for m in (_matrices(model, k)[1:] if p.lookup or p.split == p.cols
                        else _matrices(model, k))]
    m_a, m_b = (0 if all(m.scheme in schemes.PER_MATRIX_SCALE for m in ms) else margin
                for ms in (firsts, seconds))
    alph = scheme_alphabet(walked, multiply)
    look = None
    looked = [(k, p) for k, p in zip(ks, passes, strict=True) if p.lookup]
    if looked:
        w = _matrices(model, looked[0][0])[0]
        la = scheme_alphabet([w], schemes.int_bits(w.scheme) is not None)
        look = (la.multiply, la.K, la.binary, la.code_bits, signed_bits(_max_t(w)))
    alphabets = (alph, None if look is None else Alphabet(*look[:4]))

    def plan_of(ps):
        return make_lane_plan(ps, lanes=1, simd=1, finalizers=1, multiply=multiply,
                              image=False, halves=row_halves(ps, multiply, alphabets))

    # the model's own F' with the shape's alphabet, then (for row scales) SHAPE_MARGIN finer
    fracs = tuple(p.frac + lay.extra + max(m_a, m_b)
                  for p, lay in zip(passes, plan_of(passes).layouts, strict=True))
    at = [realign(p, f) for p, f in zip(passes, fracs, strict=True)]
    h, own = row_halves(at, multiply, alphabets), plan_of(at)
    ua, ub = set(), set()  # the shifts of the halves that hold a weight
    for lay, rows in zip(own.layouts, h.rows, strict=True):
        for r, (_, ta, _, tb, _, _) in zip(own.info[lay.info_base:lay.info_base + lay.rows],
                                           rows, strict=True):
            if any(ta):
                ua.add(r.ua)
            if any(tb):
                ub.add(r.ub)
    acc_bits, sum_bits = 2, 2
    mt = _max_t_of(alph)
    for p in at:
        fmts = col_formats(p)
        cut = p.split if p.split < p.cols else 0
        if p.lookup:
            la = look[4]  # one looked-up term, not a sum
        else:
            la = _lane_worst(mt, fmts[:cut]) if cut else 2
        acc_bits = max(acc_bits, la, _lane_worst(mt, fmts[cut:]))
        # the row info's bias fields: the largest bias (two preact-format biases, the head's
        # one) at F' (the finalizers' sums themselves are as wide as their operands)
        bias = (1 << p.out.bits) << p.shift
        sum_bits = max(sum_bits, width_for(-bias, bias))
    return LaneShape(multiply, alph.K, alph.binary, alph.code_bits, acc_bits, sum_bits,
                     _window(ua, m_a), _window(ub, m_b), max(p.out.bits for p in passes),
                     fracs, look)


def _window(us: set[int], margin: int) -> tuple[int, ...]:
    """The shifts a half's finalizer takes: the model's own (`margin` 0), else the span of
    them `margin` either way, as many as a select of that size takes (a power of two); more
    than four: every shift of the barrel's width."""
    if not us:
        return (0,)
    if not margin:
        return tuple(sorted(us))
    lo, hi = max(0, min(us) - margin), max(us) + margin
    n = 1 << (hi - lo).bit_length()
    if n > 4:
        return tuple(range(1 << hi.bit_length()))
    return tuple(range(lo, lo + n))


def _max_t_of(alph: Alphabet) -> int:
    if alph.multiply:
        return (1 << (alph.code_bits - 1)) - 1
    return 1 << (alph.K - 1)


def fit_passes(passes: list[Pass], shape: LaneShape) -> list[Pass]:
    """`passes` aligned to the shape's fractions, or ShapeMismatch for one that needs a finer
    fraction than the shape has."""
    if len(passes) != len(shape.fracs):
        raise ShapeMismatch(f"the model has {len(passes)} passes on this engine, the shape "
                            f"{len(shape.fracs)}")
    out = []
    for p, f in zip(passes, shape.fracs, strict=True):
        if p.frac > f:
            raise ShapeMismatch(f"{p.name} needs a fraction of {p.frac} bits, finer than the "
                                f"shape's {f} (weights or a row scale finer than the shape "
                                f"was built for)")
        out.append(realign(p, f))
    return out


def structure(model: Model) -> dict:
    """What a model must share with the shape's (its weights and biases may differ)."""
    f = model.formats.as_dict()
    mats = {name: {"scheme": m.scheme, "levels": m.levels} for name, m in model.matrices()}
    return {"cell": model.cell, "input_size": model.input_size,
            "hidden_size": model.hidden_size, "num_layers": model.num_layers,
            "activation": model.activation, "formats": f, "matrices": mats,
            "outputs": None if model.head is None else int(model.head.weight.shape[0]),
            "input_onehot": model.input_onehot, "emit": model.emits}


def check_structure(model: Model, shape_structure: dict) -> None:
    """ShapeMismatch naming the first field where `model` differs from the shape's."""
    mine = structure(model)
    for key, want in shape_structure.items():
        got = mine.get(key)
        if got != want:
            if isinstance(want, dict) and isinstance(got, dict):
                sub = next(k for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k))
                raise ShapeMismatch(f"the model's {key}.{sub} is {_show(got.get(sub))}, the "
                                    f"shape's {_show(want.get(sub))}")
            raise ShapeMismatch(f"the model's {key} is {_show(got)}, the shape's {_show(want)}")


def _show(v) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def fingerprint(shape_dict: dict) -> int:
    """CRC-32 of a shape's canonical JSON (never 0: 0 on the link means a fixed design)."""
    return zlib.crc32(_show(shape_dict).encode()) or 1


@dataclass(frozen=True)
class DesignShape:
    """A reloadable design's whole shape: the structure a model must share, the folding and
    placement it was built with (hw.gen.topplan.TopPlan), and each engine's LaneShape."""

    structure: dict
    folding: dict  # parallel, simd, head (lanes, columns) or None, order, storage, placement
    lanes: LaneShape
    head: LaneShape | None = None

    def as_dict(self) -> dict:
        return {"structure": self.structure, "folding": self.folding,
                "lanes": self.lanes.as_dict(),
                "head": None if self.head is None else self.head.as_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> DesignShape:
        """From a manifest's `reload.shape` (the manifest's design hash was checked)."""
        try:
            return cls(dict(d["structure"]), dict(d["folding"]), LaneShape.from_dict(d["lanes"]),
                       None if d.get("head") is None else LaneShape.from_dict(d["head"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ShapeMismatch(f"manifest: reload.shape is not a shape this shiftrnn reads "
                                f"({e!r}); regenerate the design") from None

    @property
    def fingerprint(self) -> int:
        return fingerprint(self.as_dict())
