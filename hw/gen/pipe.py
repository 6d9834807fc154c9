"""A balanced pipeline builder: every operation is one registered stage.

A `Staged` value is a signal and the pipeline stage at which it is valid. `Pipe.op` aligns its
inputs to the latest of their stages (delaying the earlier ones through registers, shared
between users), applies one combinational function and registers the exact result: the result
register is as wide as Amaranth's exact shape of the expression, so nothing ever wraps unless
the function itself narrows (a saturation, a cast). A datapath written as a chain of `op`s has
no path longer than one operation, and its latency is the last value's stage.

The pipeline never stalls: a `valid` bit and any tags travel with the data as staged values.
`Pipe(registered=False)` builds the same description as one combinational path (stage 0
throughout), for circuits that want the whole update in one cycle. `Pipe(None, ...)` is a dry
run: it builds nothing and only counts stages, so a component can publish its latency in
`__init__` from the same description its `elaborate` builds.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Module, Signal, Value


@dataclass(frozen=True)
class Staged:
    sig: Value
    stage: int


class Pipe:
    def __init__(self, m: Module | None, name: str, *, registered: bool = True):
        self.m, self.name, self.registered = m, name, registered
        self._delays: dict[tuple[int, int], Value] = {}
        self._n = 0

    def _fresh(self, shape, hint: str) -> Signal:
        self._n += 1
        return Signal(shape, name=f"{self.name}_{hint}{self._n}")

    @property
    def dry(self) -> bool:
        return self.m is None

    def at(self, v: Staged, stage: int) -> Value:
        """`v` delayed to `stage` (registers shared by every user of the same value)."""
        if stage < v.stage:
            raise ValueError(f"{self.name}: a value of stage {v.stage} is needed at stage {stage}")
        if self.dry:
            return None
        sig, s = v.sig, v.stage
        while s < stage:
            key = (id(sig), s + 1)
            if key not in self._delays:
                d = self._fresh(sig.shape(), "d")
                self.m.d.sync += d.eq(sig)
                self._delays[key] = (d, sig)  # keep `sig` alive so its id stays unique
            sig, s = self._delays[key][0], s + 1
        return sig

    def op(self, fn, *args: Staged, name: str = "v", shape=None) -> Staged:
        """fn(*aligned signals), registered: valid one stage after the latest input."""
        stage = max(a.stage for a in args)
        if self.dry:
            return Staged(None, stage + self.registered)
        expr = Value.cast(fn(*(self.at(a, stage) for a in args)))
        r = self._fresh(shape if shape is not None else expr.shape(), name)
        if not self.registered:
            self.m.d.comb += r.eq(expr)
            return Staged(r, stage)
        self.m.d.sync += r.eq(expr)
        return Staged(r, stage + 1)

    def comb(self, fn, *args: Staged) -> Staged:
        """fn(*aligned signals) without a register (wiring, constant shifts, slices)."""
        stage = max(a.stage for a in args)
        if self.dry:
            return Staged(None, stage)
        return Staged(Value.cast(fn(*(self.at(a, stage) for a in args))), stage)

    def read(self, port, addr: Staged) -> Staged:
        """A synchronous memory read port: the address at its stage, the data one stage later."""
        if self.dry:
            return Staged(None, addr.stage + 1)
        self.m.d.comb += port.addr.eq(self.at(addr, addr.stage))
        return Staged(port.data, addr.stage + 1)
