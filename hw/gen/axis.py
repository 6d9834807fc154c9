"""`--ports axis`: the generated core with AXI-Stream-style port names (docs/hardware.md).

`AxisTop` is a thin wrapper component around a `ModelTop`/`UnrolledTop`: it renames and splits
the core's ports and adds no logic but the reset inverter, so cycle counts, latency and every
integer are the core's own.

| port            | dir | width            | meaning                                          |
|-----------------|-----|------------------|--------------------------------------------------|
| aclk            | in  | 1                | clock (rising edge)                              |
| aresetn         | in  | 1                | synchronous reset, active low                    |
| s_axis_tdata    | in  | input_size * b   | one time step, signed elements, element 0 low    |
| s_axis_tuser    | in  | 1                | first step of a sequence: the state starts at 0  |
| s_axis_tlast    | in  | 1                | last step of a sequence                          |
| s_axis_tvalid   | in  | 1                |                                                  |
| s_axis_tready   | out | 1                |                                                  |
| m_axis_tdata    | out | payload - 1      | the output beat below `last`: data, then argmax  |
|                 |     |                  | (a streamed output: one element, argmax, end)    |
| m_axis_tlast    | out | 1                | the beat ends a sequence (streamed: each element |
|                 |     |                  | of the sequence's last output)                   |
| m_axis_tvalid   | out | 1                |                                                  |
| m_axis_tready   | in  | 1                |                                                  |

The manifest (hw.gen.manifest) describes each stream's payload as the concatenation of its
ports, lowest bits first (`payload_ports`), so the field offsets are those of the native
payload and sim/ drives either top from the same description.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

NATIVE, AXIS = "native", "axis"
PORT_STYLES = (NATIVE, AXIS)
CLOCK, RESET = "aclk", "aresetn"


def _parts(layout, names: list[tuple[str, str]]) -> list[tuple[str, int, int]]:
    """(port, offset, width) for each of `names` = [(port, field or "" for the rest)].

    The fields named go to their own ports; the port named with "" takes the bits from 0 up
    to the lowest of them. Checks that the ports cover the payload in order, lowest first."""
    fields = {n: f for n, f in layout}
    own = [fields[f] for _, f in names if f]
    low = min(f.offset for f in own)
    out = []
    for port, fname in names:
        if fname:
            out.append((port, fields[fname].offset, fields[fname].width))
        else:
            out.append((port, 0, low))
    at = 0
    for port, off, width in sorted(out, key=lambda p: p[1]):
        if off != at:
            raise ValueError(f"port {port} starts at bit {off}, not {at}: the payload layout "
                             f"changed; hw.gen.axis needs updating")
        at += width
    if at != layout.size:
        raise ValueError(f"the AXI-Stream ports take {at} of the payload's {layout.size} bits")
    return sorted(out, key=lambda p: p[1])


def input_ports(core) -> list[tuple[str, int, int]]:
    return _parts(core.in_layout, [("s_axis_tdata", "data"), ("s_axis_tuser", "first"),
                                   ("s_axis_tlast", "last")])


def output_ports(core) -> list[tuple[str, int, int]]:
    return _parts(core.out_layout, [("m_axis_tdata", ""), ("m_axis_tlast", "last")])


class AxisTop(wiring.Component):
    """`core` (a ModelTop or UnrolledTop, not elaborated elsewhere) behind AXI-Stream names;
    the manifest's attributes (`model`, `cycles_per_step`, ...) are the core's."""

    def __init__(self, core):
        self.core = core
        self.in_parts, self.out_parts = input_ports(core), output_ports(core)
        sig = {CLOCK: In(1), RESET: In(1)}
        sig |= {p: In(w) for p, _, w in self.in_parts}
        sig |= {"s_axis_tvalid": In(1), "s_axis_tready": Out(1)}
        sig |= {p: Out(w) for p, _, w in self.out_parts}
        sig |= {"m_axis_tvalid": Out(1), "m_axis_tready": In(1)}
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = ClockDomain(local=True)
        m.d.comb += [cd.clk.eq(getattr(self, CLOCK)), cd.rst.eq(~getattr(self, RESET))]
        m.submodules.core = core = self.core
        i_bits, o_bits = core.i.payload.as_value(), core.o.payload.as_value()
        for port, off, width in self.in_parts:
            m.d.comb += i_bits[off:off + width].eq(getattr(self, port))
        for port, off, width in self.out_parts:
            m.d.comb += getattr(self, port).eq(o_bits[off:off + width])
        m.d.comb += [core.i.valid.eq(self.s_axis_tvalid), self.s_axis_tready.eq(core.i.ready),
                     self.m_axis_tvalid.eq(core.o.valid), core.o.ready.eq(self.m_axis_tready)]
        return m


def rename(man, top: AxisTop):
    """The native manifest `man` (hw.gen.manifest.Manifest) with the wrapper's port names."""
    from dataclasses import replace

    sides = {}
    for side, prefix, parts in (("input", "s", top.in_parts), ("output", "m", top.out_parts)):
        s = getattr(man, side)
        sides[side] = replace(s, valid=f"{prefix}_axis_tvalid", ready=f"{prefix}_axis_tready",
                              payload="/".join(p for p, _, _ in parts),
                              payload_ports=tuple(parts))
    return replace(man, ports=AXIS, clock=CLOCK, reset=RESET, reset_active_low=True, **sides)
