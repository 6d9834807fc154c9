"""The time-multiplexed matrix-vector engine: P lanes, weight codes in on-chip memory.

Each cycle every lane reads one weight code (a word of the code memory holds the codes of P
rows for one column) and the vector element of that column (broadcast to all lanes), and adds,
subtracts or skips the element shifted by the row's base shift minus the code's magnitude
(intN: multiplies by the code, then shifts). A row group of P rows takes `cols` cycles; its
results are rounded, saturated and shifted into the result registers in row order.

Pipeline: cycle t presents the memory addresses, t+1 accumulates, t+2 finalizes; a pass of G
row groups over C columns therefore takes G*C + 2 cycles (`pass_cycles`).
Both engines (this and `unrolled.UnrolledEngine`) share the ports of `EngineSignature`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .arith import saturate, shift_round
from .plan import Pass, serial_image


def engine_ports(passes: list[Pass], vec_bits: int, vec_len: int, res_bits: int, res_len: int):
    return {
        "run": In(1),  # high for a whole pass; the pass ends in the cycle `done` is high
        "sel": In(range(max(2, len(passes)))),  # which pass
        "vec": In(data.ArrayLayout(signed(vec_bits), vec_len)),
        "consume": In(1),  # shift the results down by `consume_step` (the cell stage reads 0..)
        "done": Out(1),
        "result": Out(data.ArrayLayout(signed(res_bits), res_len)),
    }


def finalize(acc, p: Pass):
    """The contract's preact(): round half up from F to the output fraction, saturate."""
    return saturate(shift_round(acc, p.shift), p.out.bits)


class SerialEngine(wiring.Component):
    def __init__(self, *, passes: list[Pass], lanes: int, multiply: bool, vec_bits: int,
                 vec_len: int, consume_step: int):
        self.passes, self.lanes, self.consume_step = passes, lanes, consume_step
        self.image = serial_image(passes, lanes, multiply)
        self.acc_bits = max(p.acc_bits for p in passes)
        self.res_bits = max(p.out.bits for p in passes)
        self.res_len = max(g * lanes for g in self.image.groups)
        self.pass_cycles = tuple(g * p.cols + 2 for g, p in zip(self.image.groups, passes))
        enc = self.image.enc
        self.info_bits = self.acc_bits + 2 * enc.shift_bits
        self.memory_bits = (len(self.image.codes) * lanes * enc.code_bits
                            + len(self.image.bias) * lanes * self.info_bits)
        variable = enc.mag_bits > 1 or len({b for g in self.image.base for lb in g for b in lb}) > 1
        self.resources = {
            "lanes": lanes,
            "adders": lanes,
            "shifters": lanes if variable else 0,
            "multipliers": lanes if multiply else 0,
            "memory_bits": self.memory_bits,
            "code_bits": enc.code_bits,
        }
        super().__init__(engine_ports(passes, vec_bits, vec_len, self.res_bits, self.res_len))

    def _info_words(self) -> list[int]:
        W, sb = self.acc_bits, self.image.enc.shift_bits
        words = []
        for bias, base in zip(self.image.bias, self.image.base):
            w = 0
            for q, (b, (ba, bb)) in enumerate(zip(bias, base)):
                lane = (b & ((1 << W) - 1)) | (ba << W) | (bb << (W + sb))
                w |= lane << (q * self.info_bits)
            words.append(w)
        return words

    def elaborate(self, platform):
        m = Module()
        img, enc, P, W = self.image, self.image.enc, self.lanes, self.acc_bits
        sb, cb = enc.shift_bits, enc.code_bits
        m.submodules.codes = codes = Memory(shape=unsigned(P * cb), depth=max(1, len(img.codes)),
                                            init=img.codes)
        m.submodules.rowinfo = info = Memory(shape=unsigned(P * self.info_bits),
                                             depth=max(1, len(img.bias)), init=self._info_words())
        rd, ri = codes.read_port(), info.read_port()

        # stage 0: addresses and the column's vector element
        max_issue = max(g * p.cols for g, p in zip(img.groups, self.passes))
        cnt = Signal(range(max(self.pass_cycles) + 1))
        j = Signal(range(max(p.cols for p in self.passes) + 1))
        g = Signal(range(max(img.groups) + 1))
        issue, last_col, split, col_base = (Signal(range(max_issue + 1)), Signal.like(j),
                                            Signal.like(j), Signal(range(len(self.vec) + 1)))
        mem_base, grp_base = Signal(range(len(img.codes) + 1)), Signal(range(len(img.bias) + 1))
        last_cnt = Signal.like(cnt)
        with m.Switch(self.sel):
            for k, p in enumerate(self.passes):
                with m.Case(k):
                    m.d.comb += [issue.eq(img.groups[k] * p.cols), last_col.eq(p.cols - 1),
                                 split.eq(p.split), col_base.eq(p.col_base),
                                 mem_base.eq(img.mem_base[k]), grp_base.eq(img.group_base[k]),
                                 last_cnt.eq(self.pass_cycles[k] - 1)]
        in_range = Signal()
        m.d.comb += [in_range.eq(self.run & (cnt < issue)),
                     rd.addr.eq(mem_base + cnt), ri.addr.eq(grp_base + g),
                     self.done.eq(self.run & (cnt == last_cnt))]
        with m.If(self.run):
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(in_range):
                m.d.sync += j.eq(Mux(j == last_col, 0, j + 1))
                m.d.sync += g.eq(g + (j == last_col))
        with m.If(~self.run | self.done):
            m.d.sync += [cnt.eq(0), j.eq(0), g.eq(0)]

        s1_valid, s1_first, s1_last, s1_hb = Signal(), Signal(), Signal(), Signal()
        v1 = Signal(signed(len(self.vec[0])))
        # a case per element, not vec[index]: a variable View index scales the index by the
        # element width, which is a multiplier in the netlist
        v0 = Signal.like(v1)
        with m.Switch(col_base + j):
            for k in range(len(self.vec)):
                with m.Case(k):
                    m.d.comb += v0.eq(self.vec[k])
        m.d.sync += [s1_valid.eq(in_range), s1_first.eq(j == 0), s1_last.eq(j == last_col),
                     s1_hb.eq(j >= split), v1.eq(v0)]

        # stage 1: every lane adds its term
        accs = []
        for q in range(P):
            code = rd.data[q * cb:(q + 1) * cb]
            word = ri.data[q * self.info_bits:(q + 1) * self.info_bits]
            bias = word[:W].as_signed()
            base = Mux(s1_hb, word[W + sb:W + 2 * sb], word[W:W + sb])
            term = Signal(signed(W), name=f"term{q}")
            if enc.multiply:
                m.d.comb += term.eq((code.as_signed() * v1) << base)
            else:
                neg, mag = code[enc.mag_bits], code[:enc.mag_bits]
                if enc.mag_bits > 1:
                    sh = Signal(sb, name=f"sh{q}")
                    m.d.comb += sh.eq(base + 1 - mag)
                    nz = mag != 0
                else:
                    sh, nz = base, (mag[0] if enc.mag_bits else 1)
                shifted = Signal(signed(W), name=f"shifted{q}")
                m.d.comb += shifted.eq(v1 << sh)
                m.d.comb += term.eq(Mux(nz, Mux(neg, -shifted, shifted), 0))
            acc = Signal(signed(W), name=f"acc{q}")
            with m.If(s1_valid):
                m.d.sync += acc.eq(Mux(s1_first, bias, acc) + term)
            accs.append(acc)
        s2_valid = Signal()
        m.d.sync += s2_valid.eq(s1_valid & s1_last)

        # stage 2: finalize the group and shift it in at the top of this pass's rows
        res = [Signal(signed(self.res_bits), name=f"res{i}") for i in range(self.res_len)]
        m.d.comb += [self.result[i].eq(r) for i, r in enumerate(res)]
        # one rounding/saturation circuit per lane and distinct (shift, bits), not per pass
        final = {}
        for p in self.passes:
            key = (p.shift, p.out.bits)
            if key not in final:
                final[key] = []
                for q, a in enumerate(accs):
                    f = Signal(signed(p.out.bits), name=f"final{q}_{len(final) - 1}")
                    m.d.comb += f.eq(finalize(a, p))
                    final[key].append(f)
        with m.If(s2_valid):
            with m.Switch(self.sel):
                for k, p in enumerate(self.passes):
                    n = img.groups[k] * P
                    with m.Case(k):
                        m.d.sync += [res[i].eq(res[i + P]) for i in range(n - P)]
                        m.d.sync += [res[n - P + q].eq(f)
                                     for q, f in enumerate(final[(p.shift, p.out.bits)])]
        with m.If(self.consume):
            step = self.consume_step
            m.d.sync += [res[i].eq(res[i + step]) for i in range(self.res_len - step)]
        return m
