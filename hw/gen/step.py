"""What both tops (hw.gen.top's `ModelTop`, hw.gen.unrolled_top's `UnrolledTop`) share: the
step FSM's frame, the output beat register and the argmax tree.

A step: IDLE takes an input beat (a sequence's first beat resets the state), each layer's
pass runs in turn, and after the last layer the emit mode decides what follows: the top
layer's h as the output beat (`hidden`), the head's pass (`every`; with `last` only on a
sequence's last beat), or the next beat. The tops differ in how a pass starts and ends and in
what goes into the output beat; `StepControl` takes those as functions.
"""

from __future__ import annotations

from amaranth.hdl import Signal


class OutputBeat:
    """The `o` stream's payload, held until taken. `free`: a new beat may be loaded this cycle
    (none is held, or the held one is taken now)."""

    def __init__(self, m, top):
        self.valid = o_valid = Signal(name="o_valid")
        self.payload = o_payload = Signal(top.out_layout, name="o_payload")
        m.d.comb += [top.o.valid.eq(o_valid), top.o.payload.eq(o_payload)]
        self.free = free = Signal(name="free")
        m.d.comb += free.eq(~o_valid | top.o.ready)
        with m.If(top.o.ready):
            m.d.sync += o_valid.eq(0)

    def load(self, m, values, last, argmax=None):
        """Load a beat: `values`, `last`, and the index `argmax()` gives (None: no head)."""
        m.d.sync += [self.valid.eq(1), self.payload.last.eq(last)]
        m.d.sync += [self.payload.data[k].eq(v) for k, v in enumerate(values)]
        if argmax is not None:
            m.d.sync += self.payload.argmax.eq(argmax())


class StepControl:
    """The step FSM's frame, used inside the top's `with m.FSM()`. `start(k)` starts pass k
    (the layers 0..L-1, the head L); states are IDLE, LAYER0.., HEAD and the top's own.
    `out`: the top's output (default an OutputBeat); `head_free`: the head's pass waits for
    it (a streamed output's readout, hw.gen.serial), None: it never waits."""

    def __init__(self, m, top, start, out=None, head_free=None):
        self.m, self.top, self.start = m, top, start
        self.layers, self.emit = top.model.num_layers, top.emit
        self.last_in = Signal(name="last_in")  # the beat being processed ends its sequence
        self.out = OutputBeat(m, top) if out is None else out
        self.head_free = head_free

    def accept(self, take, first, then, gate=None):
        """The IDLE state: ready for a beat (while `gate` is high, if given); when one comes,
        `take()` its data, `first()` on a sequence's first beat (the state starts at zero),
        then `then()` (the next state)."""
        m, i = self.m, self.top.i
        with m.State("IDLE"):
            m.d.comb += i.ready.eq(1 if gate is None else gate)
            with m.If(i.valid if gate is None else i.valid & gate):
                take()
                m.d.sync += self.last_in.eq(i.payload.last)
                with m.If(i.payload.first):
                    first()
                then()

    def after_layer(self, li, hidden, own_head=None):
        """Layer li's pass is done (called in that cycle): the next layer's pass, or after
        the last layer `hidden()` (emit hidden: the output beat), the head's pass (on the
        same engine, or `own_head()` for a head with a path of its own), or the next beat."""
        m, L = self.m, self.layers
        if li < L - 1:
            self.start(li + 1)
            m.next = f"LAYER{li + 1}"
        elif self.emit == "hidden":
            hidden()
        elif own_head is not None:
            own_head()
        elif self.head_free is not None:  # the head waits (in this state) until free
            if self.emit == "last":
                with m.If(~self.last_in):
                    m.next = "IDLE"
                with m.Elif(self.head_free):
                    self.start(L)
                    m.next = "HEAD"
            else:
                with m.If(self.head_free):
                    self.start(L)
                    m.next = "HEAD"
        elif self.emit == "every":
            self.start(L)
            m.next = "HEAD"
        else:
            m.next = "IDLE"
            with m.If(self.last_in):
                self.start(L)
                m.next = "HEAD"


def argmax_value_tree(leaves, node):
    """argmax_tree's walk, giving the root's (value, index)."""
    nodes, level = list(leaves), 0
    while len(nodes) > 1:
        up = [node(level, k // 2, nodes[k], nodes[k + 1])
              for k in range(0, len(nodes) - 1, 2)]
        if len(nodes) % 2:
            up.append(nodes[-1])
        nodes, level = up, level + 1
    return nodes[0]


def argmax_tree(leaves, node):
    """The index of the largest of `leaves` ((value, index) pairs), the first one on ties, as
    a balanced tree (log2 n deep; a chain of n - 1 was the board builds' critical path):
    `node(level, k, left, right)` makes node k of a level, which keeps `left` (the
    lower-index side) unless right's value is strictly larger. An odd node out goes up a
    level as it is."""
    return argmax_value_tree(leaves, node)[1]
