"""The fully unrolled matrix-vector engine: weights are constants, one pass per cycle.

A zero weight produces no logic, a power-of-two weight is wiring (a constant shift) into an
adder or a subtractor of a balanced tree, and an intN weight that is not a power of two is a
constant multiplier. Every tree node is as wide as the pass's accumulator: two's-complement sums
wrap consistently and the reference's widths guarantee the final sum fits, so nothing is lost.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, signed
from amaranth.lib import wiring

from .engine import engine_ports, finalize, has_split
from .plan import Pass


def _tree(m: Module, leaves: list[tuple[object, bool]], width: int, name: str):
    """Sum of +-leaf (leaf, negative) as a `width`-bit signal; returns (signal, adders used).

    Signs are folded into the adders (a-b, b-a, -(a+b) kept as a negative node), so a
    subtracted weight costs a subtractor, not a negation."""
    adders = 0
    level = leaves
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            (a, na), (b, nb) = level[i], level[i + 1]
            s = Signal(signed(width), name=f"{name}_{adders}")
            if na == nb:
                m.d.comb += s.eq(a + b)
            elif nb:
                m.d.comb += s.eq(a - b)
            else:
                m.d.comb += s.eq(b - a)
            adders += 1
            nxt.append((s, na and nb))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    if not level:
        return Const(0, signed(width)), adders
    v, neg = level[0]
    if neg:
        s = Signal(signed(width), name=f"{name}_neg")
        m.d.comb += s.eq(-v)
        return s, adders + 1
    return v, adders


class UnrolledEngine(wiring.Component):
    def __init__(self, *, passes: list[Pass], vec_bits: int, vec_len: int):
        self.passes = passes
        self.split = has_split(passes)
        self.res_bits = max(p.out.bits for p in passes)
        self.res_len = max(len(p.rows) for p in passes)
        self.rows_per_write = self.res_len
        adders, products = 0, set()
        for p in passes:
            for row in p.rows:
                for bias, mults in _parts(p, row):
                    terms = [mm for mm in mults if mm]
                    adders += max(0, len(terms) + (bias != 0) - 1)
                products |= {(p.col_base + j, _odd_part(abs(mm))) for j, mm in
                             enumerate(row.mults) if mm and _odd_part(abs(mm)) != 1}
        mults = len(products)  # v * odd is built once per vector element and odd constant
        self.resources = {"lanes": sum(len(p.rows) for p in passes), "adders": adders,
                          "shifters": 0, "multipliers": mults, "memory_bits": 0}
        super().__init__(engine_ports(passes, vec_bits, vec_len, self.res_bits, self.res_len,
                                      self.split))

    def visible(self, k: int, group: int) -> int:
        """Cycles after `start` from which pass k's rows are readable (all at once)."""
        return 2

    def groups(self, k: int) -> int:
        return 1

    def elaborate(self, platform):
        m = Module()
        res = [Signal(signed(self.res_bits), name=f"res{i}") for i in range(self.res_len)]
        m.d.comb += [self.result[i].eq(r) for i, r in enumerate(res)]
        if self.split:
            aux = [Signal(signed(self.res_bits), name=f"aux{i}") for i in range(self.res_len)]
            m.d.comb += [self.aux[i].eq(r) for i, r in enumerate(aux)]
        cur, active = Signal.like(self.sel), Signal()
        m.d.sync += active.eq(self.start)
        with m.If(self.start):
            m.d.sync += [cur.eq(self.sel), self.ready.eq(0)]
        with m.If(active):
            m.d.sync += self.ready.eq(self.res_len)
        products = {}
        for k, p in enumerate(self.passes):
            writes = []
            for r, row in enumerate(p.rows):
                outs = []
                for n, (bias, mults) in enumerate(_parts(p, row)):
                    leaves = [(Const(bias, signed(p.acc_bits)), False)] if bias else []
                    for j, mm in mults:
                        if mm == 0:
                            continue
                        v = self.vec[p.col_base + j]
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
                        leaves.append((term, mm < 0))
                    total, _ = _tree(m, leaves, p.acc_bits, f"p{k}r{r}_{n}")
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
