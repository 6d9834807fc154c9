"""The generated top as a function in cocotb: input beats in, output beats into a Checker.

One coroutine drives both streams, one clock cycle per loop turn: on the falling edge it sets
the input beat, `valid` and the output's `ready`; in ReadOnly it samples what the DUT will see
at the next rising edge (the same point on Icarus and Verilator), so a handshake is exactly
"valid and ready at a rising edge". Knobs: `idle`, the chance of an idle gap before an input
beat (valid then holds until taken, as the stream rules require), and `backpressure`, the
chance per cycle that the output's ready drops (for a burst, now and then); gaps and bursts
last up to a step's cycles plus the latency, so they reach every state of the step FSM.
Port names, reset polarity and payload layouts come from the manifest (a payload may span several
ports: `--ports axis`). The output side of the stream rules is
checked too: a valid beat holds, unchanged, until it is taken.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, First, ReadOnly, RisingEdge, Timer

from hw.gen.manifest import Manifest
from hw.gen.simulate import Gather

from .expect import Checker, Item

PERIOD_NS = 10


@dataclass
class Stats:
    cycles: int = 0
    steps: int = 0  # input beats accepted
    beats: int = 0  # output beats taken
    intervals: list[int] = field(default_factory=list)  # accept-to-accept within a sequence
    latencies: list[int] = field(default_factory=list)  # accept to its output beat valid
    wall_s: float = 0.0


class Bench:
    def __init__(self, dut, man: Manifest, rng: np.random.Generator, log=None):
        self.man, self.rng, self.log = man, rng, log or dut._log
        self.dut = dut
        self.clk, self.rst = getattr(dut, man.clock), getattr(dut, man.reset)
        i, o = man.input, man.output
        self.i_valid, self.i_ready = getattr(dut, i.valid), getattr(dut, i.ready)
        self.i_payload = [getattr(dut, p) for p, _, _ in i.ports]
        self.o_valid, self.o_ready = getattr(dut, o.valid), getattr(dut, o.ready)
        self.o_payload = [getattr(dut, p) for p, _, _ in o.ports]
        self.rst_on = 0 if man.reset_active_low else 1

    def _offer(self, word: int) -> None:
        for sig, v in zip(self.i_payload, self.man.input.split(word), strict=True):
            sig.value = v

    def _output(self) -> int | None:
        """The output payload, None while a bit of it is not 0 or 1."""
        vals = [sig.value for sig in self.o_payload]
        if not all(v.is_resolvable for v in vals):
            return None
        # a 1-bit port reads as a Logic (int() of it), a wider one as a LogicArray
        return self.man.output.join(v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)
                                    for v in vals)

    async def start(self) -> None:
        cocotb.start_soon(Clock(self.clk, PERIOD_NS, unit="ns").start())
        self._offer(0)
        if self.man.reload is not None:  # a reloadable top: its load port writes nothing
            for name, port in self.man.reload["ports"].items():
                if name != "ready":
                    getattr(self.dut, port["port"]).value = 0
        await self.reset(3)

    async def reset(self, cycles: int = 2, at_falling_edge: bool = False) -> None:
        """Hold the reset active for `cycles` rising edges with no beat offered or taken."""
        for n in range(cycles):
            if n or not at_falling_edge:
                await FallingEdge(self.clk)
            self.rst.value, self.i_valid.value, self.o_ready.value = self.rst_on, 0, 0
        await FallingEdge(self.clk)
        self.rst.value = 1 - self.rst_on

    @property
    def cycle(self) -> int:
        """The clock cycle we are in (the rising edge at its end samples what we set)."""
        return int(get_sim_time("ps") // (PERIOD_NS * 1000))

    def _bit(self, sig, what: str) -> int:
        v = sig.value
        if not v.is_resolvable:
            raise AssertionError(f"cycle {self.cycle}: {what} is {v}, not 0 or 1")
        return int(v)

    def beats(self, items: list[Item]) -> list[tuple[int, int, bool]]:
        """(payload, item index, last of its item) for every input beat of the items."""
        out = []
        for n, it in enumerate(items):
            T = len(it.x)
            for t in range(T):
                end = it.closed and t == T - 1
                out.append((self.man.input.pack(data=it.x[t], first=int(t == 0), last=int(end)),
                            n, t == T - 1))
        return out

    async def run(self, items: list[Item], checker: Checker, *, idle: float = 0.0,
                  backpressure: float = 0.0, reset_after: tuple[int, int] | None = None,
                  progress=None) -> Stats:
        """Drive every item's beats and take output beats until the checker has them all.

        `reset_after` (accepts, delay): `delay` cycles after the accept-th input beat, pulse
        rst, cut the item in flight (the checker keeps what came) and go on with the next."""
        queue = self.beats(items)
        man, out, st = self.man, self.man.output, Stats()
        stall_limit = 20 * (man.latency + man.cycles_per_step) + 200
        stall_limit = int(stall_limit / max(0.05, (1 - idle) * (1 - backpressure))) * 4
        steady = idle == 0 and backpressure == 0
        k, offered, held = 0, False, None
        gather = Gather()  # a streamed output's elements (hw.gen.serial)
        span = man.cycles_per_step + man.latency + 1
        gap = hold = 0  # idle cycles left before the next offer; cycles of ready low left
        prev_accept: tuple[int, int] | None = None  # (item, cycle) of the last accept
        accept_cycle: list[int] = []  # per accepted beat
        wait_valid: int | None = None  # cycle the current output beat became valid
        reset_cycle = None
        offsets = np.cumsum([0] + [len(it.x) for it in items])
        t0, c0, cyc, last_progress = time.perf_counter(), None, 0, 0
        while k < len(queue) or checker.pending:
            await FallingEdge(self.clk)
            c0 = self.cycle if c0 is None else c0
            cyc = self.cycle - c0
            if reset_cycle is not None and cyc >= reset_cycle:
                # every beat in flight is lost: the sequence taken last ends here
                await self.reset(2, at_falling_edge=True)
                cut = -1 if prev_accept is None else prev_accept[0]
                checker.cut(cut)
                while k < len(queue) and queue[k][1] == cut:
                    k += 1
                offered, held, wait_valid, prev_accept, reset_cycle = False, None, None, None, None
                gather = Gather()
                continue
            if not offered and k < len(queue):
                if gap == 0 and idle and self.rng.random() < idle:
                    gap = int(self.rng.integers(1, span))
                if gap:
                    gap -= 1
                else:
                    offered = True
                    self._offer(queue[k][0])
            self.i_valid.value = int(offered)
            if hold == 0 and backpressure and self.rng.random() < backpressure:
                # mostly single cycles, sometimes a burst as long as a step
                hold = 1 if self.rng.random() < 0.8 else int(self.rng.integers(1, span))
            ready = int(hold == 0)
            hold = max(0, hold - 1)
            self.o_ready.value = ready
            await ReadOnly()
            i_ready = self._bit(self.i_ready, man.input.ready)
            o_valid = self._bit(self.o_valid, out.valid)
            word = None
            if o_valid:
                word = self._output()
                if word is None:
                    shown = [str(p.value) for p in self.o_payload]
                    raise AssertionError(f"cycle {self.cycle}: {out.payload} is {shown} "
                                         f"while valid")
                if wait_valid is None:
                    wait_valid = cyc
            if held is not None and word != held:
                raise AssertionError(f"cycle {self.cycle}: the output beat changed or vanished "
                                     f"before it was taken ({held:#x} -> {word})")
            held = word if o_valid and not ready else None
            if o_valid and ready:
                beat = gather.take(out.unpack(word))
                last_progress = cyc
                if beat is not None:  # a whole output (a streamed one: its last element)
                    where = checker.where()
                    if where is not None and reset_after is None:
                        src = offsets[where[0]] + where[1]
                        if src < len(accept_cycle):
                            st.latencies.append(wait_valid - accept_cycle[src])
                    checker.receive(list(beat.data), beat.argmax, beat.last)
                    st.beats, wait_valid = st.beats + 1, None
            if offered and i_ready:
                item = queue[k][1]
                if prev_accept is not None and prev_accept[0] == item:
                    st.intervals.append(cyc - prev_accept[1])
                prev_accept = (item, cyc)
                accept_cycle.append(cyc)
                st.steps, k, offered, last_progress = st.steps + 1, k + 1, False, cyc
                if reset_after is not None and st.steps == reset_after[0]:
                    reset_cycle = cyc + 1 + reset_after[1]
                if progress is not None:
                    st.cycles = cyc + 1
                    progress(k, len(queue), st)
            if cyc - last_progress > stall_limit:
                raise AssertionError(f"no handshake for {cyc - last_progress} cycles: {k} of "
                                     f"{len(queue)} input beats taken, {checker.pending} output "
                                     f"beats still expected")
            if steady and last_progress != cyc and reset_cycle is None:
                # nothing to do until the DUT raises a ready or a valid: skip the idle cycles
                wake = [RisingEdge(self.o_valid), Timer(stall_limit * PERIOD_NS, "ns")]
                if offered:
                    wake.append(RisingEdge(self.i_ready))
                await First(*wake)
        st.cycles = cyc + 1
        await self.drain(checker)
        st.wall_s = time.perf_counter() - t0
        return st

    async def drain(self, checker: Checker) -> None:
        """With nothing offered, no further output beat (or element) may come."""
        for _ in range(self.man.latency + self.man.cycles_per_step + 4):
            await FallingEdge(self.clk)
            self.i_valid.value, self.o_ready.value = 0, 1
            await ReadOnly()
            if self._bit(self.o_valid, self.man.output.valid):
                word = self._output()
                if word is None:
                    raise AssertionError(f"{self.man.output.payload} is not 0s and 1s while "
                                         f"valid")
                f = self.man.output.unpack(word)
                checker.receive(f["data"], f.get("argmax"), f.get("last"))
