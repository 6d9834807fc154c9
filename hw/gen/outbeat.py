"""The output beat register both tops share: the `o` stream's payload held until taken."""

from __future__ import annotations

from amaranth.hdl import Signal


def output_register(m, top):
    """(o_valid, o_payload, free) for a top with an `o` stream and `out_layout`: `free` says a
    new beat may be loaded this cycle (none is held, or the held one is taken now)."""
    o_valid = Signal()
    o_payload = Signal(top.out_layout)
    m.d.comb += [top.o.valid.eq(o_valid), top.o.payload.eq(o_payload)]
    free = Signal()
    m.d.comb += free.eq(~o_valid | top.o.ready)
    with m.If(top.o.ready):
        m.d.sync += o_valid.eq(0)
    return o_valid, o_payload, free
