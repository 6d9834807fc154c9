"""The time-multiplexed matrix-vector engine: P lanes, weight codes in on-chip memory.

Each cycle every lane reads one weight code (a word of the code memory holds the codes of P
rows for one column) and the vector element of that column (broadcast to all lanes), and adds,
subtracts or skips the element shifted by the row's base shift minus the code's magnitude
(intN: multiplies by the code, then shifts). A row group of P rows takes `cols` cycles; its
results are rounded, saturated and written to the result registers, and `ready` counts the rows
written so far, so the cell stage can start on the first units while later groups run.

Pipeline: cycle t presents the memory addresses, t+1 accumulates, t+2 finalizes. With one
finalizer per lane a group is written at t+2; with F < P shared finalizers its sums are latched
at t+2 and written F rows a cycle from t+3 on. `start` in cycle S runs a pass; `visible` gives
the cycle from which each chunk of rows is readable.
Both engines (this and `unrolled.UnrolledEngine`) have the ports of `engine_ports`.

With `storage="memory"` this engine keeps no vector or results of its own (ModelTop holds them
in block RAM): it presents the index of the column's vector element on `vaddr` with the code
memory's address and takes the element on `vdata` in the next cycle (a memory read port's
latency), and it hands each finished row out on `wen`/`wdata`/`waux`, one row a cycle in row
order (padding rows of a pass's last group included), instead of writing result registers.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .arith import saturate, shift_round
from .plan import Pass, serial_image


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
    return saturate(shift_round(acc, p.shift), p.out.bits)


def walk_finalizers(lanes: int, cols: int) -> int:
    """The fewest finalizers F (a divisor of `lanes`) that write a row group's `lanes` results
    in lanes / F <= cols cycles, before the next group's sums arrive."""
    return next(f for f in range(1, lanes + 1) if lanes % f == 0 and lanes // f <= cols)


def memory_ports(passes: list[Pass], vec_bits: int, vec_len: int, res_bits: int,
                 aux: bool):
    ports = {k: v for k, v in engine_ports(passes, vec_bits, vec_len, res_bits, 1, False).items()
             if k in ("start", "sel")}
    ports.update({
        "ready": Out(range(max(len(p.rows) for p in passes) + 1)),
        "vaddr": Out(range(max(2, vec_len))),  # the element to present on vdata next cycle
        "vdata": In(signed(vec_bits)),
        "wen": Out(1),  # a finished row this cycle (the next in row order)
        "wdata": Out(signed(res_bits)),
    })
    if aux:
        ports["waux"] = Out(signed(res_bits))
    return ports


STORAGES = ("registers", "memory")


def has_split(passes: list[Pass]) -> bool:
    return any(r.split_bias is not None for p in passes for r in p.rows)


class SerialEngine(wiring.Component):
    def __init__(self, *, passes: list[Pass], lanes: int, multiply: bool, vec_bits: int,
                 vec_len: int, storage: str = "registers"):
        self.passes, self.lanes, self.storage, self.vec_len = passes, lanes, storage, vec_len
        self.image = serial_image(passes, lanes, multiply)
        self.split = has_split(passes)
        self.acc_bits = max(p.acc_bits for p in passes)
        self.res_bits = max(p.out.bits for p in passes)
        self.res_len = max(g * lanes for g in self.image.groups)
        # The round-and-saturate circuits cost more logic than a shift lane's arithmetic, so
        # with P > 1 lanes they are shared: a group's sums are latched, and F finalizers write
        # them F rows a cycle while the next group accumulates (see `walk_finalizers`).
        self.finalizers = walk_finalizers(lanes, min(p.cols for p in passes))
        self.walk = lanes // self.finalizers  # cycles to write one group
        self.rows_per_write = self.finalizers
        enc = self.image.enc
        self.info_bits = self.acc_bits + 2 * enc.shift_bits + (self.acc_bits + 1) * self.split
        self.memory_bits = (len(self.image.codes) * lanes * enc.code_bits
                            + len(self.image.bias) * lanes * self.info_bits)
        variable = enc.mag_bits > 1 or len({b for g in self.image.base for lb in g for b in lb}) > 1
        self.resources = {
            "lanes": lanes,
            "adders": lanes,
            "shifters": lanes if variable else 0,
            "multipliers": lanes if multiply else 0,
            "finalizers": self.finalizers,
            "memory_bits": self.memory_bits,
            "code_bits": enc.code_bits,
        }
        if storage == "memory":
            if self.finalizers != 1:
                self._MustUse__silence = True  # never built
                raise ValueError(f"storage 'memory' writes one result a cycle, so the lanes "
                                 f"({lanes}) must be at most the smallest pass's columns "
                                 f"({min(p.cols for p in passes)})")
            ports = memory_ports(passes, vec_bits, vec_len, self.res_bits, self.split)
        elif storage == "registers":
            ports = engine_ports(passes, vec_bits, vec_len, self.res_bits, self.res_len,
                                 self.split)
        else:
            self._MustUse__silence = True
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}, not {storage!r}")
        super().__init__(ports)

    def visible(self, k: int, chunk: int) -> int:
        """Cycles after `start` from which pass k's rows up to the end of write chunk `chunk`
        (`rows_per_write` rows each) are readable."""
        group, step = divmod(chunk, self.walk)
        if self.walk == 1:  # written straight from the accumulators
            return (group + 1) * self.passes[k].cols + 3
        return (group + 1) * self.passes[k].cols + 4 + step

    def _info_words(self) -> list[int]:
        W, sb = self.acc_bits, self.image.enc.shift_bits
        words = []
        img = self.image
        for bias, base, split in zip(img.bias, img.base, img.split_bias, strict=True):
            w = 0
            for q, (b, (ba, bb), sp) in enumerate(zip(bias, base, split, strict=False)):
                lane = (b & ((1 << W) - 1)) | (ba << W) | (bb << (W + sb))
                if self.split and sp is not None:
                    lane |= ((sp & ((1 << W) - 1)) | (1 << W)) << (W + 2 * sb)
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

        # control: a pass runs from the cycle after `start` for groups*cols + 2 cycles
        cur = Signal.like(self.sel)
        active = Signal()
        total = [g * p.cols for g, p in zip(img.groups, self.passes, strict=False)]
        cnt = Signal(range(max(total) + 3))
        j = Signal(range(max(p.cols for p in self.passes) + 1))
        g = Signal(range(max(img.groups) + 1))
        issue, last_col, split, col_base = (Signal(range(max(total) + 1)), Signal.like(j),
                                            Signal.like(j), Signal(range(self.vec_len + 1)))
        mem_base, grp_base = Signal(range(len(img.codes) + 1)), Signal(range(len(img.bias) + 1))
        with m.Switch(cur):
            for k, p in enumerate(self.passes):
                with m.Case(k):
                    m.d.comb += [issue.eq(total[k]), last_col.eq(p.cols - 1),
                                 split.eq(p.split), col_base.eq(p.col_base),
                                 mem_base.eq(img.mem_base[k]), grp_base.eq(img.group_base[k])]
        in_range = Signal()
        m.d.comb += [in_range.eq(active & (cnt < issue)),
                     rd.addr.eq(mem_base + cnt), ri.addr.eq(grp_base + g)]
        with m.If(active):
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(in_range):
                m.d.sync += j.eq(Mux(j == last_col, 0, j + 1))
                m.d.sync += g.eq(g + (j == last_col))
            with m.If(cnt == issue + 1):
                m.d.sync += active.eq(0)
        with m.If(self.start):
            m.d.sync += [cur.eq(self.sel), active.eq(1), cnt.eq(0), j.eq(0), g.eq(0)]

        # stage 0 -> 1: the column's vector element. A case per element, not vec[index]: a
        # variable View index scales the index by the element width, a multiplier in the netlist.
        memory = self.storage == "memory"
        if memory:  # the element arrives from ModelTop's memories in stage 1
            m.d.comb += self.vaddr.eq(col_base + j)
            v0 = None
        else:
            v0 = Signal(signed(len(self.vec[0])))
            with m.Switch(col_base + j):
                for k in range(len(self.vec)):
                    with m.Case(k):
                        m.d.comb += v0.eq(self.vec[k])
        s1_valid, s1_first, s1_last, s1_hb, s1_split = Signal(), Signal(), Signal(), Signal(), \
            Signal()
        m.d.sync += [s1_valid.eq(in_range), s1_first.eq(j == 0), s1_last.eq(j == last_col),
                     s1_hb.eq(j >= split), s1_split.eq(j == split)]
        if memory:
            v1 = self.vdata
        else:
            v1 = Signal.like(v0)
            m.d.sync += v1.eq(v0)

        # stage 1: every lane adds its term
        accs, auxs = [], []
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
            start = Signal(signed(W), name=f"from{q}")
            m.d.comb += start.eq(Mux(s1_first, bias, acc))
            if self.split:
                # a split row hands its first part over at the split column and restarts
                aux = Signal(signed(W), name=f"auxacc{q}")
                restart = s1_split & word[2 * W + 2 * sb]
                with m.If(restart):
                    m.d.comb += start.eq(word[W + 2 * sb:2 * W + 2 * sb].as_signed())
                    with m.If(s1_valid):
                        m.d.sync += aux.eq(acc)
                auxs.append(aux)
            with m.If(s1_valid):
                m.d.sync += acc.eq(start + term)
            accs.append(acc)
        s2_valid = Signal()
        s1_group, s2_group = Signal.like(g), Signal.like(g)
        m.d.sync += [s2_valid.eq(s1_valid & s1_last), s1_group.eq(g), s2_group.eq(s1_group)]

        # stage 2: round and saturate the group (a finalizer has one circuit per distinct
        # (shift, bits), not per pass) and write it to its rows
        kinds = sorted({(p.shift, p.out.bits) for p in self.passes})
        kind = Signal(range(max(2, len(kinds))))
        with m.Switch(cur):
            for k, p in enumerate(self.passes):
                with m.Case(k):
                    m.d.comb += kind.eq(kinds.index((p.shift, p.out.bits)))
        used = sorted({i for p in self.passes for i, r in enumerate(p.rows)
                       if r.split_bias is not None})  # rows with a first part (GRU n rows)
        F = self.finalizers
        if self.walk == 1:
            # every lane has its finalizers; the group is written in the cycle after its sums
            wgroup, step, srcs, aux_srcs, write = s2_group, 0, accs, auxs, s2_valid
        else:
            # latch the group's sums, then walk them: F rows a cycle, lane step*F + f through
            # finalizer f, while the next group accumulates
            done = [Signal(signed(W), name=f"done{q}") for q in range(P)]
            aux_done = [Signal(signed(W), name=f"auxdone{q}") for q in range(len(auxs))]
            wgroup, step, walking = Signal.like(g), Signal(range(self.walk)), Signal()
            srcs = [Signal(signed(W), name=f"walk{f}") for f in range(F)]
            aux_srcs = [Signal(signed(W), name=f"auxwalk{f}") for f in range(F)] if auxs else []
            with m.Switch(step):
                for st in range(self.walk):
                    with m.Case(st):
                        m.d.comb += [srcs[f].eq(done[st * F + f]) for f in range(F)]
                        m.d.comb += [aux_srcs[f].eq(aux_done[st * F + f])
                                     for f in range(len(aux_srcs))]
            write = walking
            with m.If(walking):
                m.d.sync += step.eq(step + 1)
                with m.If(step == self.walk - 1):
                    m.d.sync += walking.eq(0)
            with m.If(s2_valid):
                m.d.sync += [walking.eq(1), step.eq(0), wgroup.eq(s2_group)]
                m.d.sync += [d.eq(a) for d, a in zip(done, accs, strict=True)]
                m.d.sync += [d.eq(a) for d, a in zip(aux_done, auxs, strict=True)]
        final = self._finalizers(m, srcs, kinds, kind, "final")
        aux_final = self._finalizers(m, aux_srcs, kinds, kind, "auxfinal") if used else []

        def here(i):  # row i is written in this cycle's chunk
            return (wgroup == i // P) & (step == i % P // F) if self.walk > 1 else \
                wgroup == i // P

        with m.If(write):
            m.d.sync += self.ready.eq(self.ready + F)
        if memory:
            m.d.comb += [self.wen.eq(write), self.wdata.eq(final[0])]
            if self.split:
                m.d.comb += self.waux.eq(aux_final[0])
        else:
            self._write_results(m, write, here, final, aux_final, used)
        with m.If(self.start):
            m.d.sync += self.ready.eq(0)
            if self.walk > 1:  # a head pass may still be writing its padding rows
                m.d.sync += walking.eq(0)
        return m

    def _write_results(self, m, write, here, final, aux_final, used):
        P, F = self.lanes, self.finalizers
        res = [Signal(signed(self.res_bits), name=f"res{i}") for i in range(self.res_len)]
        m.d.comb += [self.result[i].eq(r) for i, r in enumerate(res)]
        aux_res = {i: Signal(signed(self.res_bits), name=f"aux{i}") for i in used}
        m.d.comb += [self.aux[i].eq(r) for i, r in aux_res.items()]
        with m.If(write):
            for i, r in enumerate(res):
                with m.If(here(i)):
                    m.d.sync += r.eq(final[i % P % F])
            for i, r in aux_res.items():
                with m.If(here(i)):
                    m.d.sync += r.eq(aux_final[i % P % F])

    def _finalizers(self, m, accs, kinds, kind, name):
        out = []
        for q, a in enumerate(accs):
            f = Signal(signed(self.res_bits), name=f"{name}{q}")
            with m.Switch(kind):
                for i, (shift, bits) in enumerate(kinds):
                    with m.Case(i):
                        m.d.comb += f.eq(saturate(shift_round(a, shift), bits))
            out.append(f)
        return out
