"""A lane's row finalizer and the code decoder of hw.gen.engine's `WideEngine`: the aligned
sum of a row's two halves, its row scale and bias, rounding and saturation, as pipeline
stages; and a ternary/binary code word's value."""

from __future__ import annotations

from amaranth.hdl import Const, Mux, signed

from .arith import saturate_value
from .lanes import Alphabet, LanePlan
from .pipe import Pipe, Staged


def _shift_by(v, u, values: tuple[int, ...]):
    """v << u for u one of `values`: a select among the few shifts a model uses, or a barrel
    shifter when there are many."""
    if len(values) > 4:
        return v << u
    out = v << values[0]
    for val in values[1:]:
        out = Mux(u == val, v << val, out)
    return out


def finalize_row(pipe: Pipe, plan: LanePlan, kinds: list, a: Staged, b: Staged, info: Staged,
                 kind: Staged, split: Staged):
    """(main, aux) of one row from its two half sums and its row info."""
    sb, ub = plan.sum_bits, plan.u_bits

    def field(lo, n, sgn=False):
        return pipe.comb(lambda w: w[lo:lo + n].as_signed() if sgn else w[lo:lo + n], info)

    bias, sbias = field(0, sb, True), field(sb, sb, True)
    ua, ubv = field(2 * sb, ub), field(2 * sb + ub, ub)
    # a select among the shifts, then the bias: one adder chain per stage
    first = pipe.op(lambda v, u, c: _shift_by(v, u, plan.ua_values) + c, a, ua, bias,
                    name="first")
    second = pipe.op(lambda v, u, c: _shift_by(v, u, plan.ub_values) + c, b, ubv, sbias,
                     name="second")
    main = pipe.op(lambda s, f, t: Mux(s, t, f + t), split, first, second, name="main")

    def round_sat(v: Staged, name: str) -> Staged:
        # one adder (the rounding constant of the pass's kind) a stage, then the shift
        # (wiring) and the saturation (a sign-extension check and a select among the kinds)
        # the next: together they were the iCEBreaker's critical path in some placements
        def rnd(k, x):
            half = Const(0, 1)
            for i, (sh, _) in enumerate(kinds):
                half = Mux(k == i, (1 << (sh - 1)) if sh > 0 else 0, half)
            return x + half

        def sat(k, t, x):
            out = Const(0, signed(plan.res_bits))
            for i, (sh, bits) in enumerate(kinds):
                out = Mux(k == i, saturate_value(t >> sh if sh > 0 else x << -sh, bits), out)
            return out

        t = pipe.op(rnd, kind, v, name=f"{name}rn")
        return pipe.op(sat, kind, t, v, name=f"{name}rs", shape=signed(plan.res_bits))

    return round_sat(main, "m"), round_sat(first, "a")


def decode_t(code, alph: Alphabet):
    """A code of `alph` as its signed t (hw.gen.lanes.Alphabet): intN the code itself, binary
    +-1, a shift scheme +-2**(K - |c|) (0 for c = 0)."""
    if alph.multiply:
        return code.as_signed()
    if alph.binary:
        return Mux(code[0], -1, 1)
    neg, mag = code[alph.mag_bits], code[:alph.mag_bits]
    one = (Const(1, alph.K + 1) << (Const(alph.K) - mag)[:alph.K.bit_length()].as_unsigned())
    return Mux(mag == 0, 0, Mux(neg, -one.as_signed(), one.as_signed()))
