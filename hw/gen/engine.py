"""The wide-lane matrix-vector engine: P lanes x S columns a cycle, pipelined, F finalizers.

Fed by hw.gen.lanes.LanePlan. Per cycle of a pass it presents one code-memory word (P x S
codes) and asks its owner for one chunk of S vector elements (`vsrc`, `vchunk`; the elements
arrive on `vdata` `plan.vec_stage` cycles later: 1, like a memory read, or 2 with code
banks). The words are issued in the plan's walk order (`rows`: a group's chunks, then the
next group's; `columns`: a chunk of every group, then the next chunk), with the holds and the
spacing of hw.gen.timeline. Stages, each registered:

- issue (stage 0): addresses; stage 1: codes and elements arrive and are registered; stage 2:
  each lane's S terms t * v (a sign, a select, and for exponential a shift by K - |c|; intN a
  multiplier) straight into the first adder level;
- an adder tree per lane, one level a stage;
- the accumulator: restarts at each half of a row, keeps the first half's sum apart, and
  latches both halves of a group's P rows when the group's last chunk is in (order
  `columns`: a sum per group, in memory);
- the walk: F finalizers take the latched sums F rows a cycle, shift each half by its row's
  exponent, add the biases, round half up and saturate (the contract's preact()), in stages.

Results leave on `out_*`, F rows a cycle: row `out_unit * F + f` of pass `out_pass` has
`out_main[f]` (and for a GRU's split n row `out_aux[f]`, the input part), with the tag the
owner gave the pass's `start`. Rows leave `result_delay + w` cycles after the issue of their
group's last chunk, w = (i % P) // F.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .finalize import decode_t, finalize_row
from .lanes import LanePlan
from .loadport import LoadMemory, load_signature
from .pipe import Pipe, Staged


def _tree_levels(n: int) -> int:
    return max(0, (n - 1).bit_length())


def pass_kinds(plan: LanePlan) -> list[tuple[int, int]]:
    """The distinct (fraction bits dropped, output bits) of the passes: the finalizers'
    rounding and saturation cases."""
    return sorted({(lay.shift, lay.out_bits) for lay in plan.layouts})


@dataclass(frozen=True)
class EngineTiming:
    """When results leave the engine, from the plan alone (nothing is built)."""

    plan: LanePlan
    sum_stage: int  # the stage at which a lane's chunk sum is ready
    fin_latency: int  # the finalizers' stages

    @classmethod
    def of(cls, plan: LanePlan) -> EngineTiming:
        one = Staged(None, 1)  # the latched sums and the row info arrive in stage 1
        # a looked-up first half is selected a stage later (the table is read in stage 0)
        a = Staged(None, 2) if plan.lookup is not None else one
        fin = finalize_row(Pipe(None, "dry"), plan, pass_kinds(plan), a, one, one,
                           Staged(None, 0), one)[0].stage
        return cls(plan, plan.code_stage + _tree_levels(plan.simd), fin)

    @property
    def result_delay(self) -> int:
        """From a group's last issue to its walk step 0 leaving the engine."""
        return self.sum_stage + 1 + self.fin_latency

class WideEngine(wiring.Component):
    def __init__(self, *, plan: LanePlan, sources: list[tuple[int, int]], vec_bits: int,
                 ram_style: str | list[str] = "block", info_ram_style: str | None = None,
                 acc_ram_style: str = "logic", holds=None, tag_bits: int = 1,
                 lookup_ram_style: str | None = None, writable: bool = False):
        """`sources[k]`: (source of half a, source of half b) of pass k, as the owner numbers
        its vectors (0: the input x, l + 1: layer l's h). `ram_style`: the code memories'
        yosys attribute ("block", "distributed" or "logic"), or a list of one per code bank;
        `info_ram_style` the row info's (default: the first bank's); `acc_ram_style` the
        per-group sums' (order "columns").
        `holds[k][j]`: cycles after pass k's start before its first group may issue chunk j
        (hw.gen.timeline); `tag`: bits the owner gives with `start` and gets back with the
        pass's results (`out_tag`). `writable` (a reloadable design): the code banks, the row
        info and the lookup table (`load_memories`, in that order) take writes on `load`
        (hw.gen.loadport), whose `ready` says that the engine has been quiet long enough for
        no read of them to be under way."""
        self.plan, self.sources, self.vec_bits = plan, sources, vec_bits
        self.holds = holds if holds is not None else [[0] * lay.chunks for lay in plan.layouts]
        self.tag_bits = tag_bits
        self.acc_attrs = {"ram_style": acc_ram_style}
        # yosys' memory_libmap weighs a wide, shallow ROM as cheaper in logic than in block
        # RAM; on a small FPGA the logic is what runs out, so the memories ask for block RAM
        styles = [ram_style] * plan.code_banks if isinstance(ram_style, str) else ram_style
        if len(styles) != plan.code_banks:
            raise ValueError(f"{len(styles)} ram styles for {plan.code_banks} code banks")
        self.bank_attrs = [{"ram_style": st} for st in styles]
        self.info_attrs = {"ram_style": info_ram_style or styles[0]}
        self.lookup_attrs = {"ram_style": lookup_ram_style or styles[0]}
        S, F = plan.simd, plan.finalizers
        self.split = any(r.split for r in plan.info)
        self.kinds = pass_kinds(plan)
        self.timing = EngineTiming.of(plan)
        self.info_bits = plan.info_bits
        self.memory_bits = plan.memory_bits
        n_src = 1 + max(max(s) for s in sources)
        n_pass = max(2, len(plan.layouts))
        ports = {
            "start": In(1),
            "sel": In(range(n_pass)),
            "tag": In(tag_bits),
            # the pass being issued and its tag; `free`: the engine is idle (from the cycle
            # after its pass's final issue), `start` may be given
            "cur": Out(range(n_pass)),
            "cur_tag": Out(tag_bits),
            "free": Out(1),
            "vsrc": Out(range(max(2, n_src))),
            "vchunk": Out(range(max(2, max(lay.chunks for lay in plan.layouts)))),
            "vdata": In(data.ArrayLayout(signed(vec_bits), S)),
            "out_valid": Out(1),
            "out_main": Out(data.ArrayLayout(signed(plan.res_bits), F)),
            # the F rows' unit (row // F: a cell unit's rows when F is its gate rows), pass
            # and the pass's tag
            "out_unit": Out(range(plan.max_groups * plan.walk + 1)),
            "out_pass": Out(range(n_pass)),
            "out_tag": Out(tag_bits),
        }
        if plan.lookup is not None:
            # with `start` of the looked-up pass: the table word of its token's first row
            # (token x the pass's finalizer words); 0 for the other passes
            ports["base"] = In(range(max(2, len(plan.lookup.words))))
        if self.split:
            ports["out_aux"] = Out(data.ArrayLayout(signed(plan.res_bits), F))
        self.writable = writable
        if writable:
            mems = plan.memories()
            names = (["codes"] if plan.code_banks == 1 else
                     [f"codes{b}" for b in range(plan.code_banks)])
            names += ["rowinfo"] + (["lookup"] if plan.lookup is not None else [])
            self.load_memories = [LoadMemory(n, w, d) for n, (w, d) in zip(names, mems,
                                                                            strict=True)]
            ports["load"] = In(load_signature(self.load_memories))
        super().__init__(ports)

    def _width(self, name: str, width: int) -> int:
        """A memory's width: with `writable`, whole byte lanes (hw.gen.loadport)."""
        if not self.writable:
            return width
        return next(lm.lane_width for lm in self.load_memories if lm.name == name)

    def _write_port(self, m, mem, name: str) -> None:
        """With `writable`: memory `name` of load_memories takes `load`'s writes, a byte
        lane at a time (a memory in SPRAM: through _read_port's shared address)."""
        if not self.writable:
            return
        k, lm = next((k, lm) for k, lm in enumerate(self.load_memories) if lm.name == name)
        w = mem.write_port(granularity=8)
        hit = self.load.en & (self.load.mem == k)
        m.d.comb += [w.data.eq(Cat(*[self.load.data] * lm.word_bytes)),
                     w.en.eq(Cat(*(hit & (self.load.lane == b) for b in range(lm.word_bytes))))]
        if mem.attrs.get("ram_style") == "huge":
            self._huge_writes[name] = (w, hit)
        else:
            m.d.comb += w.addr.eq(self.load.addr)

    def _read_port(self, m, mem, name: str):
        """The engine's read port of memory `name` (its `addr` and `data`). A writable memory
        in the iCE40UP5K's SPRAM (ram_style "huge") has ONE address for both ports, as the
        single-ported SB_SPRAM256KA needs (yosys' memory_libmap finds "no valid mapping" for
        a write port with an address of its own; docs/hardware.md, "Codes in SPRAM"): the
        load's address while a load writes the memory, the engine's otherwise, and the read
        disabled while writing (the SPRAM keeps its read data then). Taking the address away
        from the engine is safe: the load port's `ready` (_quiet) holds the writer off until
        no read of these memories is under way, and the owner starts nothing while loading,
        so no read the engine makes ever meets a write."""
        rp = mem.read_port(src_loc_at=1)  # named after the caller's variable, as before
        if name not in self._huge_writes:
            return rp
        w, hit = self._huge_writes[name]
        addr = Signal.like(rp.addr, name=f"{name}_raddr")
        m.d.comb += [w.addr.eq(Mux(hit, self.load.addr, addr)), rp.addr.eq(w.addr),
                     rp.en.eq(~hit)]
        return SimpleNamespace(addr=addr, data=rp.data)

    def _quiet(self, m, iss, walking) -> None:
        """With `writable`: `load.ready` once neither the issue nor the walk has run for as
        many cycles as a word takes from its issue to leaving the finalizers (the row info
        and the lookup table are read in the walk's first stages)."""
        if not self.writable:
            return
        span = self.timing.result_delay + self.plan.walk + 2
        since = Signal(range(span + 1), init=span)
        with m.If(iss.active | walking):
            m.d.sync += since.eq(0)
        with m.Elif(since != span):
            m.d.sync += since.eq(since + 1)
        m.d.comb += self.load.ready.eq((since == span) & ~iss.active & ~walking)

    def elaborate(self, platform):
        m = Module()
        self._huge_writes = {}  # memory name: (write port, written) of those in SPRAM
        banks, ri, words = self._memories(m)
        iss = self._issue(m, banks)
        pipe, sums, at, g0 = self._lanes(m, iss, banks)
        done_a, done_b = self._accumulators(m, pipe, sums, at, g0)
        walking = self._walk(m, pipe, ri, words, iss, at, done_a, done_b)
        self._quiet(m, iss, walking)
        return m

    def _memories(self, m):
        """The code words (one memory, or banks) and the row info: (the code banks' read
        ports, the row info's read port, its words)."""
        plan = self.plan
        P, S, F, cb = plan.lanes, plan.simd, plan.finalizers, plan.code_bits
        nb, D = plan.code_banks, plan.bank_depth
        if nb == 1:
            m.submodules.codes = codes = Memory(shape=unsigned(self._width("codes", P * S * cb)),
                                                depth=max(1, len(plan.codes)), init=plan.codes,
                                                attrs=self.bank_attrs[0])
            self._write_port(m, codes, "codes")
            banks = [self._read_port(m, codes, "codes")]
        else:
            banks = []
            for b in range(nb):
                init = plan.codes[b * D:(b + 1) * D]
                m.submodules[f"codes{b}"] = mem = Memory(shape=unsigned(self._width(
                                                             f"codes{b}", P * S * cb)),
                                                         depth=max(2, len(init)), init=init,
                                                         attrs=self.bank_attrs[b])
                self._write_port(m, mem, f"codes{b}")
                banks.append(self._read_port(m, mem, f"codes{b}"))
        words = plan.info_words()
        m.submodules.rowinfo = rinfo = Memory(shape=unsigned(self._width("rowinfo",
                                                                         F * self.info_bits)),
                                              depth=max(1, len(words)), init=words,
                                              attrs=self.info_attrs)
        self._write_port(m, rinfo, "rowinfo")
        ri = self._read_port(m, rinfo, "rowinfo")
        return banks, ri, words

    def _issue(self, m, banks):
        """The issue logic; its signals for the lanes' pipeline."""
        plan, L = self.plan, self.plan.layouts
        F, nb, D = plan.finalizers, plan.code_banks, plan.bank_depth
        # ---- issue: group g, chunk j of the current pass, in the plan's walk order; the
        # first group's chunk j waits for its hold, a last chunk for the walk's spacing
        cur, active, tag = self.cur, Signal(), self.cur_tag
        g = Signal(range(plan.max_groups + 1))
        j = Signal(range(max(lay.chunks for lay in L) + 1))
        addr = Signal(range(max(2, len(plan.codes))))
        c_a, c_all, groups = Signal.like(j), Signal.like(j), Signal.like(g)
        src_a, src_b = Signal.like(self.vsrc), Signal.like(self.vsrc)
        last_steps = Signal(range(plan.walk + 1))
        top_hold = max([1] + [h for hs in self.holds for h in hs])
        hold = Signal(range(top_hold + 1))
        tc = Signal(range(top_hold + 1))  # cycles since the pass's start, saturating
        W = plan.walk
        since = Signal(range(W + 1), init=W)  # cycles since the last last-chunk issue
        with m.Switch(cur):
            for k, lay in enumerate(L):
                with m.Case(k):
                    m.d.comb += [c_a.eq(lay.chunks_a), c_all.eq(lay.chunks),
                                 groups.eq(lay.groups),
                                 src_a.eq(self.sources[k][0]), src_b.eq(self.sources[k][1]),
                                 last_steps.eq(lay.walk_steps(lay.groups - 1, F))]
                    with m.Switch(j):
                        for jj, h in enumerate(self.holds[k]):
                            if h > 1:
                                with m.Case(jj):
                                    m.d.comb += hold.eq(h)
        last_chunk = j == c_all - 1
        issue = Signal()
        m.d.comb += issue.eq(active & ((g != 0) | (tc >= hold))
                             & (~last_chunk | (since >= W) if W > 1 else 1))
        final = issue & last_chunk & (g == groups - 1)
        m.d.comb += self.free.eq(~active)
        lo = (D - 1).bit_length() if nb > 1 else len(addr)
        m.d.comb += [port.addr.eq(addr[:lo]) for port in banks]
        m.d.comb += [self.vsrc.eq(Mux(j < c_a, src_a, src_b)),
                     self.vchunk.eq(Mux(j < c_a, j, j - c_a))]
        with m.If(tc != top_hold):
            m.d.sync += tc.eq(tc + 1)
        if W > 1:
            with m.If(since != W):
                m.d.sync += since.eq(since + 1)
        with m.If(issue):
            m.d.sync += addr.eq(addr + 1)
            if W > 1:
                with m.If(last_chunk):
                    m.d.sync += since.eq(1)
            if plan.order == "rows":
                m.d.sync += j.eq(j + 1)
                with m.If(last_chunk):
                    m.d.sync += [j.eq(0), g.eq(g + 1)]
            else:
                m.d.sync += g.eq(g + 1)
                with m.If(g == groups - 1):
                    m.d.sync += [g.eq(0), j.eq(j + 1)]
            with m.If(final):
                m.d.sync += active.eq(0)
        cur_base = None
        if plan.lookup is not None:
            cur_base = Signal(range(max(2, len(plan.lookup.words))), name="cur_base")
        with m.If(self.start):
            m.d.sync += [cur.eq(self.sel), tag.eq(self.tag), active.eq(1), g.eq(0), j.eq(0),
                         tc.eq(1)]
            if cur_base is not None:
                m.d.sync += cur_base.eq(self.base)
            if W > 1:
                m.d.sync += since.eq(1)
            with m.Switch(self.sel):
                for k, lay in enumerate(L):
                    with m.Case(k):
                        m.d.sync += addr.eq(lay.code_base)
        return SimpleNamespace(issue=issue, g=g, j=j, c_a=c_a, c_all=c_all, groups=groups,
                               last_steps=last_steps, addr=addr, lo=lo, cur_base=cur_base,
                               active=active)

    def _lanes(self, m, iss, banks):
        """The lanes' pipeline up to each lane's chunk sum: (the pipeline, per lane its sum
        and negation carry, the issue's flags at the sums' stage, the group at issue)."""
        plan = self.plan
        P, S, cb, nb = plan.lanes, plan.simd, plan.code_bits, plan.code_banks
        issue, g, j, c_a, c_all = iss.issue, iss.g, iss.j, iss.c_a, iss.c_all
        groups, last_steps, addr, lo = iss.groups, iss.last_steps, iss.addr, iss.lo
        cur, tag = self.cur, self.cur_tag
        # the lanes' stages, from the issue: addresses out (0), codes and elements in (1)
        pipe = Pipe(m, "lane")
        valid0 = Staged(issue, 0)
        steps0 = Staged(Mux(g == groups - 1, last_steps, plan.walk), 0)
        pass0, tag0 = Staged(cur, 0), Staged(tag, 0)
        no_a0 = Staged(c_a == 0, 0)  # a pass of one matrix (the head): no first half
        first0 = Staged(j == 0, 0)
        bound0 = Staged((j == c_a) & (c_a != 0), 0)
        last0 = Staged(j == c_all - 1, 0)
        g0 = Staged(g, 0)
        # the memories' outputs are registered before any logic: a block RAM's clock-to-out
        # and the owner's source select leave no room for the terms in the same cycle
        if nb == 1:
            code1 = pipe.op(lambda c: c, Staged(banks[0].data, 1), name="code")
        else:
            # each bank's word is registered next to its block RAM, then the bank selected
            qs = [pipe.op(lambda c: c, Staged(port.data, 1), name=f"bank{b}_")
                  for b, port in enumerate(banks)]
            which = Staged(addr[lo:], 0)

            def select(w, *words):  # a tree of 2:1 selects, one level per address bit
                level, bit = list(words), 0
                while len(level) > 1:
                    level = [Mux(w[bit], level[i + 1], level[i]) if i + 1 < len(level)
                             else level[i] for i in range(0, len(level), 2)]
                    bit += 1
                return level[0]

            code1 = pipe.op(select, which, *qs, name="code")
        assert code1.stage == plan.code_stage
        v1 = pipe.op(lambda v: v, Staged(self.vdata.as_value(), plan.vec_stage), name="vec")
        assert v1.stage <= code1.stage  # the elements never delay the terms

        # ---- terms and trees. A negative term is sent as ~v (one LUT a bit, no negation
        # adder) and its +1 rides as the carry-in of one of the S adders that sum the lane:
        # S - 1 in the tree and the accumulator's
        sums = []
        for q in range(P):
            nodes = []
            for s in range(S):
                o = (q * S + s) * cb
                x = pipe.comb(lambda c, v, o=o, s=s: self._term(c[o:o + cb], v, s)[0],
                              code1, v1)
                n = pipe.comb(lambda c, o=o: self._term(c[o:o + cb], None, None)[1], code1)
                nodes.append((x, [n]))
            while len(nodes) > 1:
                nxt = []
                for i in range(0, len(nodes) - 1, 2):
                    (x, cx), (y, cy) = nodes[i], nodes[i + 1]
                    carries = cx + cy
                    nxt.append((pipe.op(lambda u, v, c: u + v + c, x, y, carries[0],
                                        name=f"s{q}_"), carries[1:]))
                nodes = nxt + ([nodes[-1]] if len(nodes) % 2 else [])
            (total, carries), = nodes
            if len(carries) > 1:
                raise AssertionError("more negation carries than adders")
            sums.append((total, carries[0] if carries else None))
        a = self.timing.sum_stage
        at = [pipe.at(x, a) for x in (valid0, first0, bound0, last0, g0, steps0, pass0, tag0,
                                      no_a0)]
        valid_a, first_a, bound_a, last_a, g_a, steps_a, pass_a, tag_a, no_a = at
        return pipe, sums, at, g0

    def _accumulators(self, m, pipe, sums, at, g0):
        """Each lane's accumulator and the group latch: (each lane's latched first and
        second half sums)."""
        plan, L, P = self.plan, self.plan.layouts, self.plan.lanes
        a = self.timing.sum_stage
        valid_a, first_a, bound_a, last_a, g_a, steps_a, pass_a, tag_a, no_a = at
        # ---- accumulators and the group latch. Order "rows": one sum per lane, restarted at
        # each half of a row. Order "columns": a sum per lane and group, in a memory read a
        # stage ahead
        W = plan.acc_bits
        done_a = [Signal(signed(W), name=f"done_a{q}") for q in range(P)]
        done_b = [Signal(signed(W), name=f"done_b{q}") for q in range(P)]
        news = [Signal(signed(W), name=f"new{q}") for q in range(P)]
        # every lane keeps a row's first half apart (each half has its own exponent)
        splits = list(range(P)) if plan.has_first_halves else []
        if plan.order == "rows":
            accs = [Signal(signed(W), name=f"acc{q}") for q in range(P)]
            auxs_ = {q: Signal(signed(W), name=f"aux{q}") for q in splits}
            with m.If(valid_a):
                m.d.sync += [acc.eq(new) for acc, new in zip(accs, news, strict=True)]
                with m.If(bound_a):
                    m.d.sync += [auxs_[q].eq(accs[q]) for q in splits]
                with m.Elif(first_a):
                    m.d.sync += [auxs_[q].eq(0) for q in splits]
        else:
            G_ = plan.max_groups
            m.submodules.sums = sums_mem = Memory(shape=unsigned(P * W), depth=max(2, G_),
                                                  init=[], attrs=self.acc_attrs)
            # a group's sum is read a stage before the previous issue's is written: the same
            # word only when a pass has one group (then the read is transparent: a bypass)
            one = min(lay.groups for lay in L) == 1
            wp = sums_mem.write_port()
            rp = sums_mem.read_port(transparent_for=(wp,) if one else ())
            g_pre = pipe.at(g0, a - 1)
            m.d.comb += [rp.addr.eq(g_pre), wp.addr.eq(g_a), wp.en.eq(valid_a),
                         wp.data.eq(Cat(*news))]
            accs = [rp.data[q * W:(q + 1) * W].as_signed() for q in range(P)]
            auxs_ = {}
            if splits:
                m.submodules.firsts = aux_mem = Memory(
                    shape=unsigned(len(splits) * W), depth=max(2, G_), init=[],
                    attrs=self.acc_attrs)
                awp = aux_mem.write_port()
                arp = aux_mem.read_port(transparent_for=(awp,) if one else ())
                m.d.comb += [arp.addr.eq(g_pre), awp.addr.eq(g_a), awp.en.eq(valid_a & bound_a),
                             awp.data.eq(Cat(*(accs[q] for q in splits)))]
                auxs_ = {q: arp.data[i * W:(i + 1) * W].as_signed()
                         for i, q in enumerate(splits)}
        for q in range(P):
            acc, new = accs[q], news[q]
            aux = auxs_.get(q, Const(0, signed(W)))
            total, carry = sums[q]
            cin = pipe.at(carry, a) if carry is not None else 0
            m.d.comb += new.eq(Mux(first_a | bound_a, 0, acc) + pipe.at(total, a) + cin)
            with m.If(valid_a & last_a):
                m.d.sync += [done_a[q].eq(Mux(bound_a, acc, Mux(first_a | no_a, 0, aux))),
                             done_b[q].eq(new)]
        return done_a, done_b

    def _walk(self, m, pipe, ri, words, iss, at, done_a, done_b):
        """The finalizers' walk over a group's latched sums (a looked-up first half from the
        token's table words), onto the `out_*` ports. Returns the walk's busy flag."""
        plan, L, F = self.plan, self.plan.layouts, self.plan.finalizers
        cur, tag, g, cur_base = self.cur, self.cur_tag, iss.g, iss.cur_base
        a = self.timing.sum_stage
        valid_a, first_a, bound_a, last_a, g_a, steps_a, pass_a, tag_a, no_a = at
        # ---- the walk: F rows a cycle through the finalizers, with the pass's constants
        walking, step, wgroup = Signal(), Signal(range(max(2, plan.walk))), Signal.like(g)
        steps = Signal(range(plan.walk + 1))
        wpass, wtag = Signal.like(cur), Signal.like(tag)
        with m.If(walking):
            m.d.sync += step.eq(step + 1)
            with m.If(step == steps - 1):
                m.d.sync += walking.eq(0)
        with m.If(valid_a & last_a):
            m.d.sync += [walking.eq(1), step.eq(0), wgroup.eq(g_a), steps.eq(steps_a),
                         wpass.eq(pass_a), wtag.eq(tag_a)]
        # the latched sums move F rows towards the finalizers each walk step, so a finalizer
        # always takes the same registers: no select of one of P / F rows (at 243 lanes and 3
        # finalizers, that 81:1 select was a ULX3S build's critical path, 24.6 MHz); a latch
        # (the next group's, in the walk's last cycle) takes precedence over the shift
        if plan.walk > 1:
            with m.If(walking & ~(valid_a & last_a)):
                for regs in (done_a, done_b):
                    m.d.sync += [regs[q].eq(regs[q + F]) for q in range(len(regs) - F)]
        wbase = None
        if cur_base is not None:
            wbase, base_a = Signal.like(cur_base), pipe.at(Staged(cur_base, 0), a)
            with m.If(valid_a & last_a):  # (the delay registers above: never conditional)
                m.d.sync += wbase.eq(base_a)
        w_kind = Signal(range(max(2, len(self.kinds))))
        w_info_base = Signal(range(len(words) + 1))
        with m.Switch(wpass):
            for k, lay in enumerate(L):
                with m.Case(k):
                    m.d.comb += [w_kind.eq(self.kinds.index((lay.shift, lay.out_bits))),
                                 w_info_base.eq(lay.info_base // F)]
        fp = Pipe(m, "fin")
        w0, wg0 = Staged(step, 0), Staged(wgroup, 0)
        wvalid0 = Staged(walking, 0)
        unit0 = fp.comb(lambda gg, s: gg * plan.walk + s, wg0, w0)  # the row info's word too
        info = fp.read(ri, fp.comb(lambda u: w_info_base + u, unit0))
        kind0 = Staged(w_kind, 0)
        wpass0, wtag0 = Staged(wpass, 0), Staged(wtag, 0)
        looked = None
        if plan.lookup is not None:
            lk = plan.lookup
            m.submodules.lookup = table = Memory(
                shape=unsigned(self._width("lookup", lk.word_bits(F))),
                depth=max(2, len(lk.words)), init=lk.words,
                attrs=self.lookup_attrs)
            self._write_port(m, table, "lookup")
            lk_bits, lk_index, lk_alphabet = lk.alphabet.code_bits, lk.index, lk.alphabet
            looked = fp.read(self._read_port(m, table, "lookup"),
                             fp.comb(lambda b, u: b + u, Staged(wbase, 0), unit0))
        mains, auxs = [], []
        for f in range(F):
            if looked is None:
                av = fp.op(lambda s, f=f: done_a[f], w0, name=f"wa{f}_")
            else:  # the looked-up pass's first half is its token's column, from the table
                # the latched sums are read in the walk's own cycle (the next step shifts
                # them), the table's word a cycle later
                walked = fp.op(lambda s, f=f: done_a[f], w0, name=f"wa{f}_")
                code = fp.comb(lambda t, f=f: t[f * lk_bits:(f + 1) * lk_bits], looked)
                av = fp.op(lambda k, c, w: Mux(k == lk_index, decode_t(c, lk_alphabet), w),
                           wpass0, code, walked, name=f"wl{f}_")
            bv = fp.op(lambda s, f=f: done_b[f], w0, name=f"wb{f}_")
            inf = fp.comb(lambda x, f=f: x[f * self.info_bits:(f + 1) * self.info_bits], info)
            split = fp.comb(lambda x: x[-1], inf)
            main, aux = finalize_row(fp, plan, self.kinds, av, bv, inf, kind0, split)
            mains.append(main)
            auxs.append(aux)
        end = mains[0].stage
        assert end == self.timing.fin_latency
        m.d.comb += [self.out_valid.eq(fp.at(wvalid0, end)),
                     self.out_unit.eq(fp.at(unit0, end)), self.out_pass.eq(fp.at(wpass0, end)),
                     self.out_tag.eq(fp.at(wtag0, end))]
        m.d.comb += [self.out_main[f].eq(fp.at(x, end)) for f, x in enumerate(mains)]
        if self.split:
            m.d.comb += [self.out_aux[f].eq(fp.at(x, end)) for f, x in enumerate(auxs)]
        return walking

    def _term(self, code, v, s):
        """(x, n) for one code and the element in slot s, with t * v = x + n: a negative term
        is x = ~(|t| v), n = 1. `v` None: only n."""
        plan, vb = self.plan, self.vec_bits
        if plan.multiply:
            return (None if v is None else code.as_signed() * v[s * vb:(s + 1) * vb].as_signed(),
                    Const(0, 1))
        if plan.mag_bits == 0:  # binary: every weight is +-1
            neg, nz = code[0], Const(1, 1)
        else:
            neg, nz = code[plan.mag_bits], code[:plan.mag_bits] != 0
        n = neg & nz
        if v is None:
            return None, n
        x = v[s * vb:(s + 1) * vb].as_signed()
        if plan.K > 1:
            x = x << (Const(plan.K) - code[:plan.mag_bits])[:plan.K.bit_length()].as_unsigned()
        mask = Mux(n, -1, 0)
        return Mux(nz, x ^ mask, 0), n
