"""`ModelTop`: the whole model as one streaming component (the interface of docs/hardware.md).

One input beat is one time step. Per layer, the wide-lane engine (hw.gen.engine) runs one pass
over all gate rows; its finalizers hand out one hidden unit's pre-activations a cycle, in unit
order, straight into the pipelined cell unit (hw.gen.cell), which reads the unit's old h (and
c) from memory and writes the new h into the bank its pass writes. Each pass starts as soon
as the engine has issued the one before (the engine's holds keep its reads of a vector still
being written behind the writes, hw.gen.timeline), and carries a tag (its layer's bank and
fresh flag) down the pipeline with its results; with emit "last" the next beat is accepted
while the last pass drains. The head's pass runs when the step emits logits, its rows go to
registers and a registered comparator tree (or a scan) finds the argmax; a streamed output's
rows go into a memory instead, the argmax taken as they come (hw.gen.serial).

Storage: every vector lives in `lib.memory` blocks, S words read a cycle (h of layer l is S
memories, element k in memory k % S, two banks each, or one memory of S-element words where
those would each take a block RAM); "memory" lets the tools use block RAM, "registers" marks
the same memories `ram_style = "logic"` (flip-flops). A layer's `fresh` flag (set by a
sequence's first beat and by reset) makes its state read as zero, so nothing is cleared word
by word.

Everything is decided in the `hw.gen.topplan.TopPlan` the top is built from
(`TopPlan.create()`): the cycle counts it publishes are the plan's, and the tests measure
them. (`parallel="unrolled"` is hw.gen.unrolled_top's `UnrolledPlan` and `UnrolledTop`.)
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..cell import UNIT_ROWS
from .cell import CellUnit
from .engine import WideEngine
from .loadport import load_signature
from .payload import input_values
from .pipe import Pipe, Staged
from .plan import pass_sources
from .serial import SerialOutput
from .step import StepControl, argmax_tree


def _argmax_tree(pipe: Pipe, vals: list[Staged], bits: int, idx_bits: int) -> Staged:
    """hw.gen.step.argmax_tree with one registered comparator level a stage."""
    leaves = [(v, pipe.comb(lambda x, i=i: Const(i, unsigned(idx_bits)), v))
              for i, v in enumerate(vals)]

    def node(level, k, left, right):
        (lv, li), (rv, ri) = left, right
        nv = pipe.op(lambda a, b: Mux(b > a, b, a), lv, rv, name="mv", shape=signed(bits))
        ni = pipe.op(lambda a, b, i, j: Mux(b > a, j, i), lv, rv, li, ri, name="mi",
                     shape=unsigned(idx_bits))
        return nv, ni

    return argmax_tree(leaves, node)


class ModelTop(wiring.Component):
    """Streams one time step per input beat; see docs/hardware.md for the protocol.

    Built from a hw.gen.topplan.TopPlan (`plan.create()`), which decides everything: P, the
    engine's lanes (rows a cycle; a multiple of the cell's gate rows per unit, 3 for a GRU
    and 4 for an LSTM), S, the columns each lane takes a cycle, the storage and the walk.

    `cycles_per_step`: cycles between accepting consecutive beats of a sequence (input always
    valid, output always ready). `latency`: cycles from accepting a beat to its output beat
    being valid (for emit "last", the sequence's last beat). `resources`: what it uses.
    The other figures are the plan's (`top.plan`).

    A reloadable design (a plan with a `shape`) has a `load` port (hw.gen.loadport) that
    writes `load_memories` (the engines' weight memories; on the board they start with the
    plan's model, `preloaded`, unless the plan puts some in the iCE40UP5K's SPRAM, which has
    no initial contents: then a load must fill them first); its `ready` is high while no
    step is in flight and no weight is read. The writer must offer no input beat while it
    writes (the board's link never does).
    """

    def __init__(self, plan):
        self.plan = tp = plan
        model = tp.model
        f, I = model.formats, model.input_size
        self.model, self.storage, self.emit = model, tp.storage, tp.emit
        self.parallel, self.simd, self.unit_rows = tp.parallel, tp.simd, tp.unit_rows
        self.cell, self.cell_latency, self.h_stage, self.c_stage = (
            tp.cell, tp.cell_latency, tp.h_stage, tp.c_stage)
        self.out_count, self.out_bits = tp.out_count, tp.out_bits
        self.serial = tp.serial  # the outputs stream out of a memory (hw.gen.serial)
        self.argmax_cycles = tp.argmax_cycles
        self.argmax_scan = tp.emit == "last" and not tp.serial
        self.cycles_per_step, self.latency = tp.cycles_per_step, tp.latency
        self.resources = tp.resources
        L = model.num_layers
        sources = pass_sources(L, model.head is not None)
        self.vec_bits = max(f["input"].bits, f["state"].bits)
        styles = {name: tp.memory_style(name, w, d) for name, w, d in tp.memories()}
        own = tp.head_lanes is not None  # the head on an engine of its own
        writable = tp.shape is not None
        self.engine = WideEngine(plan=tp.lanes, sources=sources[:L] if own else sources,
                                 writable=writable,
                                 vec_bits=self.vec_bits,
                                 ram_style=[st for n, st in styles.items()
                                            if n.startswith("codes")],
                                 info_ram_style=styles["rowinfo"],
                                 acc_ram_style=styles.get("sums", "logic"),
                                 holds=tp.holds[:L] if own else tp.holds, tag_bits=2,
                                 lookup_ram_style=styles.get("lookup"))
        self.head_engine = None
        if own:
            self.head_engine = WideEngine(
                plan=tp.head_lanes, sources=[(L, L)], vec_bits=f["state"].bits,
                ram_style=[st for n, st in styles.items() if n.startswith("head_codes")],
                info_ram_style=styles["head_rowinfo"], holds=[tp.holds[L]], tag_bits=1,
                writable=writable)
        self.h_words = -(-model.hidden_size // self.simd)  # words a bank of each h memory
        self.x_chunks = -(-I // self.simd)
        self.in_layout, self.out_layout = tp.in_layout, tp.out_layout
        ports = {"i": In(stream.Signature(self.in_layout)),
                 "o": Out(stream.Signature(self.out_layout))}
        if writable:
            self.load_memories = tp.load_memories()
            self.shape_fingerprint = tp.shape.fingerprint
            # block RAMs start with the plan's model; SPRAM powers up undefined
            self.preloaded = not tp.huge_memories
            ports["load"] = In(load_signature(self.load_memories))
        super().__init__(ports)

    # ---- the circuit
    def _memory(self, m, name, shape, depth):
        attrs = {"ram_style": self.plan.ram_style(Shape.cast(shape).width, depth)}
        m.submodules[name] = mem = Memory(shape=shape, depth=max(2, depth), init=[],
                                          attrs=attrs)
        return mem

    def elaborate(self, platform):
        m = Module()
        f, L, S = self.model.formats, self.model.num_layers, self.simd
        m.submodules.engine = self.engine
        if self.head_engine is not None:
            m.submodules.head_engine = self.head_engine
        lookup = self.plan.lanes.lookup
        # a looked-up one-hot input never reaches the lanes: the beat's token picks the table
        # words (`base`: token x the pass's finalizer words), nothing holds the vector
        x = Signal(data.ArrayLayout(signed(f["input"].bits), 0 if lookup else self.x_chunks * S))
        base = Signal(range(max(2, len(lookup.words)))) if lookup else None
        # per layer: its state reads as zero until its first pass of a sequence (`fresh`, set
        # by a first beat and by reset), and the bank its latest pass writes (`wb`; a pass
        # reads its own previous h from the other bank). A pass's tag carries both, so the
        # results of one pass are written while the next pass is issued
        fresh = Signal(L, init=(1 << L) - 1)
        wb = Signal(L)
        hmem = self._vector_reads(m, x, wb)
        commit, hn = self._cell_stage(m, hmem)
        head = self._head(m, hmem, wb)
        idle = self._step_fsm(m, x, base, fresh, wb, commit, hn, *head)
        if self.plan.shape is not None:
            self._load(m, idle)
        return m

    def _load(self, m, idle):
        """The load port to the engines' write ports (the head engine's memories after the
        layers'); `ready` registered: the step FSMs idle, no beat offered, both engines
        quiet."""
        engines = [e for e in (self.engine, self.head_engine) if e is not None]
        base, quiet = 0, idle & ~self.i.valid
        for eng in engines:
            n = len(eng.load_memories)
            m.d.comb += [eng.load.mem.eq(self.load.mem - base), eng.load.addr.eq(self.load.addr),
                         eng.load.lane.eq(self.load.lane), eng.load.data.eq(self.load.data),
                         eng.load.en.eq(self.load.en & (self.load.mem >= base)
                                        & (self.load.mem < base + n))]
            quiet &= eng.load.ready
            base += n
        ready = Signal()
        m.d.sync += ready.eq(quiet)
        m.d.comb += self.load.ready.eq(ready)

    def _vector_reads(self, m, x, wb):
        """The engine's vector reads: chunk `vchunk` of source `vsrc`, S elements `vec_stage`
        cycles later. With code banks (vec_stage 2) every h memory gets its own registered
        address, so no address adder and no fan-out route shares a cycle with a
        (distributed) RAM read. Makes the h memories: per layer, a list of (memory, the
        elements of a chunk it holds)."""
        eng, L, S = self.engine, self.model.num_layers, self.simd
        sb = self.model.formats["state"].bits
        late = self.plan.lanes.vec_stage - 1
        vsrc1 = Signal.like(eng.vsrc)
        chunk = eng.vchunk
        zero = Signal(L)  # per layer: the issuing pass reads its own state, and it is fresh
        zero1 = Signal(L)
        m.d.comb += zero.eq(Cat(*((eng.cur == li) & eng.cur_tag[0] for li in range(L))))
        if late:
            vsrc0, chunk, zero0 = Signal.like(eng.vsrc), Signal.like(eng.vchunk), Signal(L)
            m.d.sync += [vsrc0.eq(eng.vsrc), chunk.eq(eng.vchunk), vsrc1.eq(vsrc0),
                         zero0.eq(zero), zero1.eq(zero0)]
        else:
            m.d.sync += [vsrc1.eq(eng.vsrc), zero1.eq(zero)]
        xdata = Signal(data.ArrayLayout(signed(self.vec_bits), S))
        with m.Switch(chunk):
            for c in range(0 if self.plan.lanes.lookup else self.x_chunks):
                with m.Case(c):
                    m.d.sync += [xdata[s].eq(x[c * S + s]) for s in range(S)]
        # h of layer l: S memories of one element (element k in memory k % S), or with
        # `merged_h` one memory of S-element words; `hmem[l]` lists (memory, its elements)
        if self.plan.merged_h:
            hmem = [[(self._memory(m, f"h{li}", unsigned(S * sb), 2 * self.h_words),
                      list(range(S)))] for li in range(L)]
        else:
            hmem = [[(self._memory(m, f"h{li}_{s}", signed(sb), 2 * self.h_words), [s])
                     for s in range(S)] for li in range(L)]
        vdata = [xdata[s] for s in range(S)]
        for li in range(L):
            side = Mux(eng.cur == li, ~wb[li], wb[li])
            for n, (mem, which) in enumerate(hmem[li]):
                port = mem.read_port()
                addr = Mux(side, self.h_words, 0) + eng.vchunk
                if late:
                    reg = Signal(range(2 * self.h_words), name=f"vaddr{li}_{n}")
                    m.d.sync += reg.eq(addr)
                    addr = reg
                m.d.comb += port.addr.eq(addr)
                for s, d in zip(which, _elements(port.data, which, sb), strict=True):
                    vdata[s] = Mux(vsrc1 == li + 1, Mux(zero1[li], 0, d), vdata[s])
        m.d.comb += [eng.vdata[s].eq(v) for s, v in enumerate(vdata)]
        return hmem

    def _cell_stage(self, m, hmem):
        """The cell stage: one unit a cycle from the finalizers, with its pass's tags; reads
        the unit's old h (and c) and writes the new ones. Returns (commit: the last layer's
        last unit is written this cycle, the registers of the output beat's h (emit
        hidden))."""
        model, f, eng = self.model, self.model.formats, self.engine
        H, L, S = model.hidden_size, model.num_layers, self.simd
        lstm = model.cell == "lstm"
        sb = f["state"].bits
        lb = (S - 1).bit_length()  # the column memory of an element: its low bits
        cu = CellUnit(params=self.cell)
        m.submodules.cell = cu
        pipe = Pipe(m, "top")
        e_valid = Staged(eng.out_valid & (eng.out_pass < L), 0)
        e_unit = Staged(eng.out_unit, 0)
        e_layer = Staged(eng.out_pass, 0)
        e_fresh, e_wb = Staged(eng.out_tag[0], 0), Staged(eng.out_tag[1], 0)
        pre = []
        for g, (part, _) in enumerate(UNIT_ROWS[model.cell]):
            if part == "split":
                pre.append(pipe.op(lambda v, g=g: v, Staged(eng.out_aux[g], 0), name="pre"))
            pre.append(pipe.op(lambda v, g=g: v, Staged(eng.out_main[g], 0), name="pre"))
        m.d.comb += [cu.pre[n].eq(p.sig) for n, p in enumerate(pre)]
        # old h (and c) are read just before the cell uses them: cell stage h_stage is stage
        # 1 + h_stage here; the address goes out at stage h_stage - 1 and the selected word
        # (layer, column memory, a fresh layer's zero) is registered, so no memory output
        # drives the select and the cell's first use in one cycle. The old h is in the bank
        # the pass does not write
        hs = self.h_stage
        if hs is not None:
            h_unit = pipe.at(e_unit, hs - 1)
            sub = pipe.op(lambda u: u[:lb] if S > 1 else 0, Staged(h_unit, 0), name="sub")
            # the address itself is registered a stage earlier (one register per memory,
            # next to it), when the cell reads h late enough
            early = hs >= 2
            a_stage = hs - 2 if early else hs - 1
            a_unit, a_wb = pipe.at(e_unit, a_stage), pipe.at(e_wb, a_stage)
            old = []
            for li in range(L):
                for n, (mem, which) in enumerate(hmem[li]):
                    port = mem.read_port()
                    addr = Mux(a_wb, 0, self.h_words) + (a_unit >> lb)
                    if early:
                        reg = Signal(range(2 * self.h_words), name=f"haddr{li}_{n}")
                        m.d.sync += reg.eq(addr)
                        addr = reg
                    m.d.comb += port.addr.eq(addr)
                    old += [(li, s, d) for s, d in zip(which, _elements(port.data, which, sb),
                                                        strict=True)]
            h_old, h_reg = Signal(signed(sb)), Signal(signed(sb))
            with m.Switch(pipe.at(e_layer, hs) * S + (sub.sig if S > 1 else 0)):
                for li, s, d in old:
                    with m.Case(li * S + s):
                        m.d.comb += h_old.eq(d)
            m.d.sync += h_reg.eq(Mux(pipe.at(e_fresh, hs), 0, h_old))
            m.d.comb += cu.h.eq(h_reg)
        cmem = []
        if lstm:
            cs = self.c_stage
            c_old, c_reg = Signal(signed(f["cell"].bits)), Signal(signed(f["cell"].bits))
            if cs >= 2:
                c_unit = Signal.like(eng.out_unit, name="caddr")
                m.d.sync += c_unit.eq(pipe.at(e_unit, cs - 2))
            else:
                c_unit = pipe.at(e_unit, cs - 1)
            c_layer = pipe.at(e_layer, cs)
            for li in range(L):
                mem = self._memory(m, f"c{li}", signed(f["cell"].bits), H)
                port = mem.read_port()
                m.d.comb += port.addr.eq(c_unit)
                with m.If(c_layer == li):
                    m.d.comb += c_old.eq(port.data)
                cmem.append(mem)
            m.d.sync += c_reg.eq(Mux(pipe.at(e_fresh, cs), 0, c_old))
            m.d.comb += cu.c.eq(c_reg)
        lat = 1 + self.cell_latency
        w_valid, w_unit = pipe.at(e_valid, lat), pipe.at(e_unit, lat)
        w_layer, w_wb = pipe.at(e_layer, lat), pipe.at(e_wb, lat)
        # the last layer's last unit is written in this cycle (registered from the stage
        # before, so the FSM's next state begins at a register)
        commit = pipe.op(lambda v, u, q: v & (u == H - 1) & (q == L - 1), e_valid, e_unit,
                         e_layer, name="commit")
        commit = pipe.at(commit, lat)
        for li in range(L):
            for mem, which in hmem[li]:
                w = mem.write_port(granularity=sb if len(which) > 1 else None)
                m.d.comb += [w.addr.eq(Mux(w_wb, self.h_words, 0) + (w_unit >> lb)),
                             w.data.eq(Cat(*[cu.h_new] * len(which))),
                             w.en.eq(Cat(*(w_valid & (w_layer == li)
                                           & ((w_unit[:max(1, lb)] == s) if S > 1 else 1)
                                           for s in which)))]
            if lstm:
                wc = cmem[li].write_port()
                m.d.comb += [wc.addr.eq(w_unit), wc.data.eq(cu.c_new),
                             wc.en.eq(w_valid & (w_layer == li))]
        hn = []
        if self.emit == "hidden":
            hn = [Signal(signed(sb), name=f"hout{k}") for k in range(H)]
            with m.If(w_valid & (w_layer == L - 1)):
                m.d.sync += [hn[k].eq(hn[k + 1]) for k in range(H - 1)]
                m.d.sync += hn[H - 1].eq(cu.h_new)
        return commit, hn

    def _head(self, m, hmem, wb):
        """The head's rows into registers (from the layers' engine, or the head's own), and
        its argmax: a registered comparator tree, or with emit "last" a scan (the head's
        output state). Returns (the rows' registers, the cycle the last row arrives, the
        argmax index, the scan's best value or None, the head engine's bank register or
        None, the engine the head's rows come from, the streamed output or None)."""
        model, eng, L = self.model, self.engine, self.model.num_layers
        n = self.out_count
        head = []
        head_done = Signal()
        best = best_v = hb = ser = None
        heng = self.head_engine
        if heng is not None:
            hb = self._head_reads(m, hmem)
        hsrc = eng if heng is None else heng  # the engine whose results the head takes
        if model.head is not None:
            G = hsrc.plan.finalizers  # rows a walk step: a unit's, or the head engine's
            on_head = eng.out_valid & (eng.out_pass == L) if heng is None else heng.out_valid
            m.d.comb += head_done.eq(on_head & (hsrc.out_unit == (n - 1) // G))
            ib = len(self.o.payload.argmax)
            if self.serial:  # the rows into a memory, the argmax as they come
                ser = SerialOutput(m, self, n=n, group=G, bits=hsrc.plan.res_bits,
                                   ram_style=self.plan.memory_style(*self.plan.out_memory))
                ser.write(m, on_head, hsrc.out_unit, [hsrc.out_main[k] for k in range(G)])
                return [], head_done, ser.best, None, hb, hsrc, ser
            head = [Signal(signed(hsrc.plan.res_bits), name=f"head{k}") for k in range(n)]
            with m.If(on_head):
                for k, r in enumerate(head):
                    with m.If(hsrc.out_unit == k // G):
                        m.d.sync += r.eq(hsrc.out_main[k % G])
            if self.argmax_scan:
                best_v = Signal(signed(hsrc.plan.res_bits))
                best_i = Signal(unsigned(ib))
                best = best_i
            else:
                ap = Pipe(m, "argmax")
                best = ap.at(_argmax_tree(ap, [Staged(r, 0) for r in head],
                                          hsrc.plan.res_bits, ib), self.argmax_cycles)
        return head, head_done, best, best_v, hb, hsrc, ser

    def _head_reads(self, m, hmem):
        """The head engine's vector reads: chunks of S' elements of the top layer's h, from
        the bank it held when the head started (the next step's layers may flip it), out of
        the S-element words of the h memories (S' <= S: the word of the chunk, then its S'
        elements). Returns that bank's register."""
        heng, L, S = self.head_engine, self.model.num_layers, self.simd
        sb = self.model.formats["state"].bits
        S1 = heng.plan.simd
        r = (S // S1).bit_length() - 1  # chunks of S' elements in a word
        late = heng.plan.vec_stage - 1
        hb = Signal()
        word = heng.vchunk >> r if r else heng.vchunk
        sub = Signal(range(max(2, 1 << r)))
        subs = [heng.vchunk[:r] if r else Const(0, 1)]
        for d in range(1 + late):
            reg = Signal.like(sub, name=f"hsub{d}")
            m.d.sync += reg.eq(subs[-1])
            subs.append(reg)
        m.d.comb += sub.eq(subs[-1])
        elems = [None] * S
        for n, (mem, which) in enumerate(hmem[L - 1]):
            port = mem.read_port()
            addr = Mux(hb, self.h_words, 0) + word
            if late:
                reg = Signal(range(2 * self.h_words), name=f"hvaddr{n}")
                m.d.sync += reg.eq(addr)
                addr = reg
            m.d.comb += port.addr.eq(addr)
            for s, d in zip(which, _elements(port.data, which, sb), strict=True):
                elems[s] = d
        for i in range(S1):
            v = elems[i]
            for c in range(1, 1 << r):
                v = Mux(sub == c, elems[c * S1 + i], v)
            m.d.comb += heng.vdata[i].eq(v)
        return hb

    def _step_fsm(self, m, x, base, fresh, wb, commit, hn, head, head_done, best, best_v, hb,
                  hsrc, ser):
        """The step FSM (hw.gen.step): each pass starts as soon as the engine has issued the
        one before (the engine's holds keep its reads behind the writes they need). A head
        on its own engine has a path of its own (run, argmax, output beat), so that with an
        output every step the next step's layers run beside it. Returns whether both FSMs
        are idle (an expression)."""
        model, eng, heng = self.model, self.engine, self.head_engine
        L, lookup = model.num_layers, self.plan.lanes.lookup

        def start(k):
            m.d.comb += [eng.start.eq(1), eng.sel.eq(k)]
            if lookup is not None and k == lookup.index:
                m.d.comb += eng.base.eq(base)
            if k < L:
                m.d.comb += eng.tag.eq(Cat(fresh[k], ~wb[k]))
                m.d.sync += [wb[k].eq(~wb[k]), fresh[k].eq(0)]

        step = StepControl(m, self, start, out=ser,
                           head_free=ser.free if ser is not None and heng is None else None)
        out, last_in = step.out, step.last_in
        wait = Signal(range(self.argmax_cycles + 2))

        def head_out(last, loaded):
            """The argmax (a scan of a row a cycle, or the tree's stages), then the output
            beat once the output register is free; `loaded()` in that cycle."""
            with m.If(wait != self.argmax_cycles):
                m.d.sync += wait.eq(wait + 1)
                if self.argmax_scan:
                    # row `wait` into a register, compared with the best a cycle later
                    cand = Signal(signed(hsrc.plan.res_bits))
                    with m.Switch(wait):
                        for k, r in enumerate(head):
                            with m.Case(k):
                                m.d.sync += cand.eq(r)
                    with m.If((wait == 1) | ((wait != 0) & (cand > best_v))):
                        m.d.sync += [best_v.eq(cand), best.eq(wait - 1)]
            with m.Elif(out.free):
                out.load(m, head, last, lambda: best)
                loaded()

        # the head on its own engine: with an output every step the next beat is taken no
        # sooner than cycles_per_step after the last (`ago`), so that every head finds the
        # path idle and every step takes the same cycles
        beside = heng is not None and self.emit == "every"
        hp_idle, hp_load, h_last = Signal(), Signal(), Signal()
        gate = None
        if beside:
            cps = self.cycles_per_step
            ago = Signal(range(cps + 1), init=cps)
            with m.If(ago != cps):
                m.d.sync += ago.eq(ago + 1)
            gate = ago == cps

        def start_head():
            m.d.comb += [heng.start.eq(1), heng.sel.eq(0)]
            m.d.sync += [hb.eq(wb[L - 1]), h_last.eq(last_in)]

        def take():
            if beside:
                m.d.sync += ago.eq(1)
            if lookup is not None:
                tok = self.i.payload.data[0]
                m.d.sync += base.eq(Mux(tok < lookup.vocab, tok, lookup.vocab) * lookup.units)
            else:
                m.d.sync += [x[k].eq(v) for k, v in
                             enumerate(input_values(model, self.i.payload.data))]

        def first():
            m.d.sync += fresh.eq(-1)

        def launch():
            m.next = "LAUNCH"

        def to_commit():
            m.next = "COMMIT"

        def own_head():  # the head's pass to its own path
            if beside:
                with m.If(hp_idle):
                    start_head()
                    m.next = "IDLE"
            else:  # emit last: the head, then the next beat
                with m.If(~last_in):
                    m.next = "IDLE"
                with m.Elif(hp_idle):
                    start_head()
                    m.next = "HWAIT"

        with m.FSM() as fsm:
            idle = fsm.ongoing("IDLE")  # (used by a reloadable design's load port)
            step.accept(take, first, launch, gate=gate)
            # the first pass starts the cycle after the beat is taken: no path runs from the
            # source's valid through the engine's start into its registers
            with m.State("LAUNCH"):
                start(0)
                m.next = "LAYER0"
            for li in range(L):
                with m.State(f"LAYER{li}"):
                    with m.If(eng.free):
                        step.after_layer(li, to_commit, own_head if heng is not None else None)
            if model.head is not None and heng is not None:
                with m.State("HWAIT"):
                    with m.If(hp_load):
                        m.next = "IDLE"
            elif model.head is not None:
                with m.State("HEAD"):
                    with m.If(head_done):
                        m.d.sync += wait.eq(0)
                        m.next = "HOUT"
                with m.State("HOUT"):
                    def done():
                        m.next = "IDLE"
                    head_out(1 if self.emit == "last" else last_in, done)
            else:
                with m.State("COMMIT"):
                    with m.If(commit):
                        m.next = "OUT"
                with m.State("OUT"):
                    with m.If(out.free):
                        out.load(m, hn, last_in)
                        m.next = "IDLE"
        if heng is None:
            return idle
        with m.FSM(name="head_path"):
            with m.State("IDLE"):  # (and a streamed output's readout over)
                m.d.comb += hp_idle.eq(1 if ser is None else ser.free)
                with m.If(heng.start):
                    m.next = "RUN"
            with m.State("RUN"):
                with m.If(head_done):
                    m.d.sync += wait.eq(0)
                    m.next = "OUT"
            with m.State("OUT"):
                def loaded():
                    m.d.comb += hp_load.eq(1)
                    m.next = "IDLE"
                head_out(1 if self.emit == "last" else h_last, loaded)
        return idle & hp_idle


def _elements(word, which, bits):
    """A memory's read data as its elements, in order (`which`: the elements it holds)."""
    return ([word] if len(which) == 1 else
            [word[k * bits:(k + 1) * bits].as_signed() for k in range(len(which))])
