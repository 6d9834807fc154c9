"""The fully unrolled matrix-vector engine: weights are constants, one pass per cycle.

A zero weight produces no logic, a power-of-two weight is wiring (a constant shift) into an
adder or a subtractor of a balanced tree, and an intN weight that is not a power of two is a
constant multiplier. Every tree node is exactly as wide as the range its inputs can reach (never
wider than the pass's accumulator from hw.reference.accumulator_widths), so nothing overflows.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..reference import width_for
from .arith import saturate_value, shift_round_value
from .plan import Pass, col_formats

# cycles from a pass's `start` to its rows being readable on `result` (all at once): `start`
# and `sel` are registered, then the result registers
RESULT_DELAY = 2


def engine_ports(passes: list[Pass], vec_bits: int, vec_len: int, res_bits: int, res_len: int,
                 aux: bool):
    ports = {
        "start": In(1),  # run pass `sel` (both sampled in this cycle)
        "sel": In(range(max(2, len(passes)))),
        "vec": In(data.ArrayLayout(signed(vec_bits), vec_len)),
        "ready": Out(range(res_len + 1)),  # rows of the current pass written to `result`
        "result": Out(data.ArrayLayout(signed(res_bits), res_len)),
    }
    if aux:  # split rows' first results (a GRU's W_in x + b_in)
        ports["aux"] = Out(data.ArrayLayout(signed(res_bits), res_len))
    return ports


def finalize(acc, p: Pass):
    """The contract's preact(): round half up from F to the output fraction, saturate."""
    return saturate_value(shift_round_value(acc, p.shift), p.out.bits)


def has_split(passes: list[Pass]) -> bool:
    return any(r.split_bias is not None for p in passes for r in p.rows)


def _tree(m: Module, leaves: list, name: str):
    """The sum of signed leaves (value, negative, lo, hi): value in [lo, hi] counts as -value
    when negative. Returns (signal, adders used).

    Signs fold into the adders (a-b, b-a, or -(a+b) kept as a negative node), so a subtracted
    weight costs a subtractor, not a negation. Each node is exactly as wide as its range."""
    adders = 0
    level = leaves
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            (a, na, alo, ahi), (b, nb, blo, bhi) = level[i], level[i + 1]
            if na == nb:
                expr, lo, hi, neg = a + b, alo + blo, ahi + bhi, na
            elif nb:
                expr, lo, hi, neg = a - b, alo - bhi, ahi - blo, False
            else:
                expr, lo, hi, neg = b - a, blo - ahi, bhi - alo, False
            s = Signal(signed(width_for(lo, hi)), name=f"{name}_{adders}")
            m.d.comb += s.eq(expr)
            adders += 1
            nxt.append((s, neg, lo, hi))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    if not level:
        return Const(0, signed(1)), adders
    v, neg, lo, hi = level[0]
    if neg:
        s = Signal(signed(width_for(-hi, -lo)), name=f"{name}_neg")
        m.d.comb += s.eq(-v)
        return s, adders + 1
    return v, adders


def engine_resources(passes: list[Pass]) -> dict:
    """What UnrolledEngine builds for `passes` (counted, nothing built): a row per lane, the
    adders of every row's sum, one product per vector element and odd constant."""
    adders, products = 0, set()
    for p in passes:
        for row in p.rows:
            for bias, mults in _parts(p, row):
                terms = [mm for mm in mults if mm]
                adders += max(0, len(terms) + (bias != 0) - 1)
            products |= {(p.col_base + j, _odd_part(abs(mm))) for j, mm in
                         enumerate(row.mults) if mm and _odd_part(abs(mm)) != 1}
    return {"lanes": sum(len(p.rows) for p in passes), "adders": adders,
            "shifters": 0, "multipliers": len(products), "memory_bits": 0}


class UnrolledEngine(wiring.Component):
    def __init__(self, *, passes: list[Pass], vec_bits: int, vec_len: int):
        self.passes = passes
        self.split = has_split(passes)
        self.res_bits = max(p.out.bits for p in passes)
        self.res_len = max(len(p.rows) for p in passes)
        self.resources = engine_resources(passes)
        super().__init__(engine_ports(passes, vec_bits, vec_len, self.res_bits, self.res_len,
                                      self.split))

    def elaborate(self, platform):
        m = Module()
        res = [Signal(signed(self.res_bits), name=f"res{i}") for i in range(self.res_len)]
        m.d.comb += [self.result[i].eq(r) for i, r in enumerate(res)]
        if self.split:
            used = sorted({i for p in self.passes for i, r in enumerate(p.rows)
                           if r.split_bias is not None})
            aux = {i: Signal(signed(self.res_bits), name=f"aux{i}") for i in used}
            m.d.comb += [self.aux[i].eq(r) for i, r in aux.items()]
        cur, active = Signal.like(self.sel), Signal()
        m.d.sync += active.eq(self.start)
        with m.If(self.start):
            m.d.sync += [cur.eq(self.sel), self.ready.eq(0)]
        with m.If(active):
            m.d.sync += self.ready.eq(self.res_len)
        products = {}
        for k, p in enumerate(self.passes):
            fmts = col_formats(p)
            writes = []
            for r, row in enumerate(p.rows):
                outs = []
                for n, (bias, mults) in enumerate(_parts(p, row)):
                    leaves = [(Const(bias), False, bias, bias)] if bias else []
                    for j, mm in mults:
                        if mm == 0:
                            continue
                        v = self.vec[p.col_base + j]
                        fv = fmts[j]
                        lo, hi = abs(mm) * fv.min, abs(mm) * fv.max
                        odd = _odd_part(abs(mm))
                        k2 = (abs(mm) // odd).bit_length() - 1
                        if odd == 1:
                            term = v << k2
                        else:
                            key = (p.col_base + j, odd)
                            if key not in products:
                                products[key] = Signal(signed(len(v) + odd.bit_length() + 1),
                                                       name=f"v{key[0]}_x{odd}")
                                m.d.comb += products[key].eq(v * odd)
                            term = products[key] << k2
                        leaves.append((term, mm < 0, lo, hi))
                    total, _ = _tree(m, leaves, f"p{k}r{r}_{n}")
                    out = Signal(signed(p.out.bits), name=f"p{k}r{r}_{n}_pre")
                    m.d.comb += out.eq(finalize(total, p))
                    outs.append(out)
                if len(outs) == 1:
                    writes.append(res[r].eq(outs[0]))
                else:  # split row: the part before the split is the aux result
                    writes += [aux[r].eq(outs[0]), res[r].eq(outs[1])]
            with m.If(active & (cur == k)):
                m.d.sync += writes
        return m


def _parts(p: Pass, row):
    """(bias, [(column, multiplier)]) for each sum a row makes: one, or two for a split row."""
    cols = list(enumerate(row.mults))
    if row.split_bias is None:
        return [(row.bias, cols)]
    return [(row.bias, cols[:p.split]), (row.split_bias, cols[p.split:])]


def _odd_part(n: int) -> int:
    while n and n % 2 == 0:
        n //= 2
    return n
