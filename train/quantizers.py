"""Weight quantizers of Ott et al. (arXiv:1608.06902) that land exactly on the model file's schemes.

Each quantizer turns full-precision shadow weights into integer `codes` and one power-of-two
exponent per row (`scale`), exactly as `hw.schemes` defines them; `values` turns those back
into real weights (exact dyadic rationals). The straight-through estimator lives in `train.ste`,
apart from the quantizers; nothing here keeps state, so export and the forward pass call the
same function and cannot disagree.

name -> scheme: codes from the shadow weight w (L: the matrix's level, a power of two 2**s)

- float -> int16: weights mode uses w itself; hardware mode and export use int16 (intN below)
- binary -> binary: sign(w) (0 -> +1)
- binary-stoch -> binary: +1 with p = clip((w/L + 1)/2, 0, 1) in training (BinaryConnect)
- ternary -> ternary: sign(w) where |w| > L/2, else 0
- ternary-stoch -> ternary: sign(w) with p = min(|w|/L, 1) in training (TernaryConnect)
- pow2-ternary -> pow2-ternary: ternary with a per-row level, the power of two nearest mean|w|
- exponential -> exponential: 2**round(log2|w|) in [2**(s-K+1), 2**s] (s per row), else 0
- exponential-stoch -> exponential: 2**floor or 2**ceil, unbiased in expectation, in training
- int4, int8 -> int4, int8: round(w / 2**s), s per row the smallest that holds max|w|

With the `fit` level rule binary and ternary take their level from the weights instead of
the Glorot bound (fitted_exponents, one per matrix) and pow2-ternary fits each row's level the
same way. Stochastic quantizers are deterministic (the first formula of their family) in
evaluation and export. This module imports only torch and hw.
"""

from __future__ import annotations

import math

import torch

from hw import schemes

QUANTIZERS = ("float", "binary", "binary-stoch", "ternary", "ternary-stoch", "pow2-ternary",
              "exponential", "exponential-stoch", "int4", "int8")
LEVEL_RULES = ("glorot", "fit")  # binary/ternary level: the Glorot bound, or fitted to the weights
PER_MATRIX = ("binary", "ternary")  # schemes with one level for the whole matrix
FLOAT_SCHEME = "int16"  # the model file has no float scheme: float weights export as int16
MIN_EXP, MAX_EXP = -40, 40  # exponents the model file accepts
_TINY = 2.0**-100  # log2 of zero weights: far below every level


def check_rule(rule: str) -> str:
    if rule not in LEVEL_RULES:
        raise ValueError(f"level rule {rule!r} is unknown; rules are {', '.join(LEVEL_RULES)}")
    return rule


def check_quant(quant: str) -> str:
    if quant not in QUANTIZERS:
        raise ValueError(f"quantizer {quant!r} is unknown; quantizers are {', '.join(QUANTIZERS)}")
    return quant


def scheme_of(quant: str) -> str:
    """The model file scheme a quantizer's codes belong to."""
    check_quant(quant)
    if quant == "float":
        return FLOAT_SCHEME
    return quant.removesuffix("-stoch")


def is_stochastic(quant: str) -> bool:
    return check_quant(quant).endswith("-stoch")


def glorot_exponent(fan_in: int, fan_out: int) -> int:
    """The power of two nearest (in log2) the Glorot bound sqrt(6 / (fan_in + fan_out)).

    Ott et al.'s code uses the Glorot bound as the binary/ternary level; the model file needs
    a power of two. For a recurrent layer fan_out is the hidden size (one gate's rows)."""
    return round(math.log2(math.sqrt(6.0 / (fan_in + fan_out))))


def fitted_exponents(w: torch.Tensor, scheme: str) -> torch.Tensor:
    """Per row, the power of two nearest (in log2) the level that fits the row's weights.

    binary: mean|w| (the least-squares level of sign codes, as XNOR-Net); ternary and
    pow2-ternary: the mean |w| of the weights above 0.7 mean|w| (Ternary Weight Networks'
    approximation of the least-squares level). For a per-matrix level pass w.reshape(1, -1)."""
    a = w.detach().abs()
    if scheme == "binary":
        return _log2_exponent(a.mean(dim=1))
    keep = a > 0.7 * a.mean(dim=1, keepdim=True)
    alpha = (a * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1)
    return _log2_exponent(alpha)


def _log2_exponent(x: torch.Tensor) -> torch.Tensor:
    """round(log2 x) as int64, clamped into the model file's exponent range (x = 0 -> MIN_EXP)."""
    e = torch.round(torch.log2(x.clamp_min(2.0 ** (MIN_EXP - 1))))
    return e.clamp(MIN_EXP, MAX_EXP).long()


def _pow2(e: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.pow(2.0, e.to(like.dtype))


def _uniform(w: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(w.shape, dtype=w.dtype, device=w.device, generator=generator)


def binary(w, exp: int, stochastic=False, generator=None):
    """Codes +-1 with one exponent for the matrix. Stochastic: P(+1) = hard_sigmoid(w / L)."""
    if stochastic:
        p = ((w / 2.0**exp + 1) / 2).clamp(0, 1)
        codes = torch.where(_uniform(w, generator) < p, 1, -1)
    else:
        codes = torch.where(w >= 0, 1, -1)
    return codes.long(), torch.full((w.shape[0],), exp, dtype=torch.long, device=w.device)


def _ternary_codes(a: torch.Tensor, stochastic: bool, generator) -> torch.Tensor:
    """a = w / level. Deterministic: threshold at half the level; stochastic: TernaryConnect."""
    if stochastic:
        keep = _uniform(a, generator) < a.abs().clamp(max=1)
    else:
        keep = a.abs() > 0.5
    return (torch.sign(a) * keep).long()


def ternary(w, exp: int, stochastic=False, generator=None):
    """Codes -1, 0, +1 with one exponent for the matrix."""
    codes = _ternary_codes(w / 2.0**exp, stochastic, generator)
    return codes, torch.full((w.shape[0],), exp, dtype=torch.long, device=w.device)


def pow2_ternary(w, stochastic=False, generator=None, fit=False):
    """Ternary with a per-row level: the power of two nearest each row's mean |w| (`fit`: each
    row's fitted level, fitted_exponents)."""
    if fit:
        scale = fitted_exponents(w, "pow2-ternary")
    else:
        scale = _log2_exponent(w.detach().abs().mean(dim=1))
    return _ternary_codes(w / _pow2(scale, w)[:, None], stochastic, generator), scale


def exponential(w, levels: int, stochastic=False, generator=None):
    """sign(w) 2**e with e in [s-K+1, s] (K = levels, s per row = round(log2 max|w|)), else 0.

    Deterministic: e = round(log2|w|), zero where e < s-K+1. Stochastic: between the two
    neighbouring levels (0 and the lowest level below it) with the probability that makes the
    expectation equal |w| (clamped to the row's top level)."""
    a = w.detach().abs()
    scale = _log2_exponent(a.max(dim=1).values)
    top = scale[:, None]
    low = top - levels + 1
    if stochastic:
        e = torch.floor(torch.log2(a.clamp_min(_TINY))).long()
        lo = _pow2(e, w)
        up = _uniform(w, generator) < (a - lo) / lo  # lo <= |w| < 2 lo: P(up) = (|w| - lo) / lo
        below = e < low  # between 0 and the lowest level: P(lowest) = |w| / lowest
        up_low = _uniform(w, generator) < a / _pow2(low, w)
        e = torch.where(below, torch.where(up_low, low, low - 1), e + up.long())
    else:
        e = torch.round(torch.log2(a.clamp_min(_TINY))).long()
    e = e.clamp(max=top)
    codes = torch.where((e >= low) & (a > 0), top - e + 1, 0)
    return (torch.sign(w).long() * codes), scale


def intn(w, bits: int):
    """Per-row power-of-two scale, the smallest with max|w| <= qmax 2**s; round half up."""
    qmax = (1 << (bits - 1)) - 1
    a = w.detach().abs().max(dim=1).values
    s = torch.ceil(torch.log2(a.clamp_min(2.0 ** (MIN_EXP - 1)) / qmax))
    scale = s.clamp(MIN_EXP, MAX_EXP).long()
    codes = torch.floor(w / _pow2(scale, w)[:, None] + 0.5).clamp(-qmax, qmax)
    return codes.long(), scale


def quantize(w: torch.Tensor, quant: str, *, exp: int = 0, levels: int = 7,
             stochastic: bool = False, generator: torch.Generator | None = None,
             rule: str = "glorot"):
    """Codes (int64, like w) and per-row exponents (int64) of a 2-d weight `w`.

    `exp` is the matrix level's exponent for binary and ternary under the `glorot` rule; under
    `fit` their level is fitted to w (one for the matrix) and pow2-ternary's to each row
    (fitted_exponents). `stochastic` only matters for the -stoch quantizers (pass the module's
    training flag)."""
    check_rule(rule)
    stochastic = stochastic and is_stochastic(quant)
    scheme = scheme_of(quant)
    w = w.detach()
    if rule == "fit" and scheme in PER_MATRIX:
        exp = int(fitted_exponents(w.reshape(1, -1), scheme)[0])
    if scheme == "binary":
        return binary(w, exp, stochastic, generator)
    if scheme == "ternary":
        return ternary(w, exp, stochastic, generator)
    if scheme == "pow2-ternary":
        return pow2_ternary(w, fit=rule == "fit")
    if scheme == "exponential":
        return exponential(w, levels, stochastic, generator)
    return intn(w, schemes.int_bits(scheme))


def values(codes: torch.Tensor, scale: torch.Tensor, scheme: str, dtype=torch.float64):
    """Real weights of codes (exact for float64): the torch twin of hw.schemes.values."""
    s = scale.to(dtype)[:, None]
    if scheme == "exponential":
        mag = torch.pow(2.0, s - codes.abs().to(dtype) + 1)
        return torch.where(codes != 0, torch.sign(codes).to(dtype) * mag, torch.zeros_like(mag))
    return codes.to(dtype) * torch.pow(2.0, s)


def clip_bound(quant: str, exp: int, rule: str = "glorot", octaves: int = 1) -> float | None:
    """Where the shadow weights are clipped after each step (BinaryConnect style), or None.

    `exp` is the Glorot level's exponent. Under the `glorot` rule binary and ternary clip to
    their level (beyond it a weight cannot change its code); pow2-ternary and exponential to
    2**octaves times the Glorot level (default twice), so that their data-dependent levels can
    still move. Under `fit` binary, ternary and pow2-ternary clip to four times the Glorot
    level (whatever `octaves`), so that the fitted level can grow past it. intN and float are
    not clipped."""
    scheme = scheme_of(quant)
    if check_rule(rule) == "fit" and scheme in PER_MATRIX + ("pow2-ternary",):
        return 2.0 ** (exp + 2)
    if scheme in PER_MATRIX:
        return 2.0**exp
    if scheme in ("pow2-ternary", "exponential"):
        return 2.0 ** (exp + octaves)
    return None
