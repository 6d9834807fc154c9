"""Run a `ModelTop` in amaranth.sim as a plain function: sequences in, output beats out.

Knobs add random idle cycles on the input (a beat's valid appears late, then holds until
accepted, as the stream rules require) and random backpressure on the output. The harness also
checks the output side of the stream rules (a valid beat holds, unchanged, until taken).
A reloadable top's weight memories can be written between beats (`loads`), through its load
port, as soon as the beats before them were accepted (their steps still in flight).
Used by the tests and the bench scripts; nothing here is synthesized.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from .manifest import streams
from .top import ModelTop


@dataclass
class Beat:
    data: tuple[int, ...]
    argmax: int | None
    last: int


@dataclass
class Trace:
    beats: list[Beat] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)  # cycle of each input handshake
    valid_at: list[int] = field(default_factory=list)  # first cycle each output beat was valid
    cycles: int = 0


def pack_input(top: ModelTop, x, first: bool, last: bool) -> int:
    """One input beat as its payload integer (hw.gen.manifest's layout of the top)."""
    return streams(top)[0].pack(data=x, first=int(first), last=int(last))


def unpack_output(top: ModelTop, word: int) -> Beat:
    f = streams(top)[1].unpack(word)
    return Beat(tuple(f["data"]), f.get("argmax"), f["last"])


class Gather:
    """Output beats from what the `o` stream hands over: each beat as it is, or for a
    streamed output (hw.gen.serial: an `end` field) its elements gathered up to the one with
    `end`. `take(fields)` gives the whole beat when one is complete, else None; `between`:
    no element of an output is pending."""

    def __init__(self):
        self.parts: list[int] = []

    @property
    def between(self) -> bool:
        return not self.parts

    def take(self, f: dict) -> Beat | None:
        if "end" not in f:
            return Beat(tuple(f["data"]), f.get("argmax"), f["last"])
        self.parts += f["data"]
        if not f["end"]:
            return None
        beat, self.parts = Beat(tuple(self.parts), f["argmax"], f["last"]), []
        return beat


def expected_count(top: ModelTop, sequences) -> int:
    return sum(1 if top.emit == "last" else len(s) for s in sequences)


def load_writes(image) -> list[tuple[int, int, int, int]]:
    """(memory id, address, byte lane, byte) of every byte of a load image
    (hw.gen.topplan.TopPlan.load_image(): (name, width, words) per memory, a memory's id its
    index), as the load port takes them (hw.gen.loadport)."""
    return [(k, a, b, (w >> 8 * b) & 0xFF) for k, (_, width, words) in enumerate(image)
            for a, w in enumerate(words) for b in range((width + 7) // 8)]


def simulate(top: ModelTop, sequences, *, idle: float = 0.0, stall: float = 0.0,
             seed: int = 0, vcd: str | None = None, before=(), reset_cycle: int | None = None,
             mark_first: bool = True, loads: dict | None = None) -> Trace:
    """Feed each sequence (T, input_size) of input-format integers, first/last set by position
    (`mark_first=False`: `first` never set, so each sequence goes on from the state before).

    With `reset_cycle`, the sequences in `before` are fed first and `rst` is pulsed for one
    cycle at that cycle (wherever the circuit is); the trace then covers only `sequences`,
    fed after the reset. `loads` {k: load_writes(...)}: once k input beats were accepted,
    write those words through the top's load port (each when `ready`, no beat offered
    meanwhile), then go on."""
    loads = dict(loads or {})
    rng = np.random.default_rng(seed)

    def pack(seqs):
        return [pack_input(top, x, mark_first and t == 0, t == len(s) - 1)
                for s in seqs for t, x in enumerate(np.asarray(s))]

    beats_in = pack(sequences)
    want = expected_count(top, sequences)
    limit = (len(beats_in) + 4) * (top.latency + top.cycles_per_step + 4) \
        * int(4 / (1 - max(idle, stall) + 1e-9)) + (reset_cycle or 0) \
        + 2 * sum(len(w) for w in loads.values())
    trace = Trace()
    i_payload, o_payload = top.i.payload.as_value(), top.o.payload.as_value()
    m = Module()
    m.domains.sync = cd = ClockDomain()
    m.submodules.top = top

    async def bench(ctx):
        queue = pack(before) if reset_cycle is not None else beats_in
        k, cycle, offered, held = 0, 0, False, None
        gather, out_stream = Gather(), streams(top)[1]
        writes = []  # words still to write before beat k is offered
        while (reset_cycle is not None and cycle <= reset_cycle) or k < len(queue) \
                or len(trace.beats) < want or writes or k in loads:
            if cycle == reset_cycle:
                # the source resets too: whatever it offered is gone
                ctx.set(cd.rst, 1)
                ctx.set(top.i.valid, 0)
                ctx.set(top.o.ready, int(rng.random() >= stall))
                await ctx.tick()
                ctx.set(cd.rst, 0)
                queue, k, offered, held = beats_in, 0, False, None
                gather.parts.clear()
                trace.beats.clear(), trace.accepted.clear(), trace.valid_at.clear()
                cycle += 1
                continue
            if not offered and k in loads:
                writes = loads.pop(k)
            write = bool(writes) and ctx.get(top.load.ready)
            if write:
                mem, addr, lane, byte = writes.pop(0)
                ctx.set(top.load.mem, mem)
                ctx.set(top.load.addr, addr)
                ctx.set(top.load.lane, lane)
                ctx.set(top.load.data, byte)
            if writes or write:
                pass  # no beat is offered while a load is under way
            elif k < len(queue) and not offered and rng.random() >= idle:
                offered = True
                ctx.set(i_payload, queue[k])
            if hasattr(top, "load_memories"):
                ctx.set(top.load.en, int(write))
            ctx.set(top.i.valid, int(offered))
            ctx.set(top.o.ready, int(rng.random() >= stall))
            _, _, iv, ir, ov, orr, op = await ctx.tick().sample(
                top.i.valid, top.i.ready, top.o.valid, top.o.ready, o_payload)
            if held is not None and (not ov or op != held):
                raise AssertionError(f"cycle {cycle}: output beat dropped or changed before "
                                     f"it was taken")
            if ov and held is None and gather.between:
                trace.valid_at.append(cycle)
            held = op if ov and not orr else None
            if ov and orr:
                beat = gather.take(out_stream.unpack(op))
                if beat is not None:
                    trace.beats.append(beat)
            if iv and ir:
                trace.accepted.append(cycle)
                k, offered = k + 1, False
            cycle += 1
            if cycle > limit:
                raise AssertionError(f"no progress after {cycle} cycles: {k} of "
                                     f"{len(queue)} beats in, {len(trace.beats)} of {want} out")
        trace.cycles = cycle

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return trace
