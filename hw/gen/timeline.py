"""When every issue, result and state write of `ModelTop` happens, from its plan alone.

The engine issues a pass's code words in its walk order (hw.gen.lanes: `rows` or `columns`)
one a cycle, with two kinds of waits, both fixed relative to the pass's start so that every
step of a sequence takes the same cycles:

- *holds*: the first group's issue of chunk j of pass k waits until `hold[k][j]` cycles after
  the pass started. The holds are what lets a pass start before the pass whose results it
  reads has finished: they are the least values for which every chunk of a hidden vector is
  written before it is read, when the passes run back to back (the tightest case: passes only
  ever start later, never earlier);
- *spacing*: issues of a group's last chunk are at least `walk` cycles apart (counting the
  pass's start as one), so a group's latched sums have left for the finalizers before the
  next group's are latched.

Pass k started at cycle s issues its first word at s + 1 at the earliest; its final issue is
at s + `final`, and the owner starts the next pass a cycle later (the engine's `free` is a
register: no path runs from the issue logic through the step FSM back into the engine).
Unit u of a layer pass leaves the finalizers at s + last[g] + result_delay + w (g = u //
walk, w = u % walk) and is written `1 + cell_latency` cycles later; a chunk of it may be read
from the cycle after its last unit's write.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lanes import LanePlan, PassLayout

LAUNCH = 1  # cycles from accepting a beat to its first pass's start (ModelTop's LAUNCH)


@dataclass(frozen=True)
class Lane:
    """What the timeline needs of the engine a pass runs on: the pass's layout in it, the
    engine's walk (P / F), order, columns a cycle and result delay."""

    layout: PassLayout
    walk: int
    order: str
    simd: int
    result_delay: int


def lanes_of(plan: LanePlan, result_delay: int) -> list[Lane]:
    """Every pass of one engine."""
    return [Lane(lay, plan.walk, plan.order, plan.simd, result_delay) for lay in plan.layouts]


@dataclass(frozen=True)
class PassTimes:
    final: int  # the final issue, cycles after the start
    last: tuple[int, ...]  # per group: its last chunk's issue

    def out(self, unit: int, walk: int, result_delay: int) -> int:
        """When unit `unit` (walk step `w` of group g) leaves the finalizers."""
        return self.last[unit // walk] + result_delay + unit % walk


def pass_times(lay: PassLayout, walk: int, holds: list[int], order: str) -> PassTimes:
    """Issue times of one pass with these holds (hold[j] for chunk j's first group)."""
    C, groups = lay.chunks, lay.groups
    t = 1
    if order == "rows":
        for j in range(C - 1):
            t = max(t, holds[j]) + 1
        last = [max(t, holds[C - 1], walk)]
        for _ in range(1, groups):
            last.append(last[-1] + max(C, walk))
    else:
        for j in range(C - 1):
            t = max(t, holds[j]) + groups
        first = max(t, holds[C - 1], walk)
        last = [first + g * walk for g in range(groups)]
    return PassTimes(last[-1], tuple(last))


@dataclass(frozen=True)
class Timeline:
    lanes: tuple[Lane, ...]  # per pass, the engine it runs on
    holds: tuple[tuple[int, ...], ...]
    passes: tuple[PassTimes, ...]
    cell_latency: int
    hidden: int
    layers: int
    emit: str
    argmax_cycles: int
    head_units: int  # units (groups of G rows) of the head, 0 without one
    # the head runs on an engine of its own (mixed precision) and, when every step emits,
    # beside the next step's layers (ModelTop's head path)
    head_engine: bool = False
    # a design that streams its outputs (TopPlan.serial): the elements read out one a cycle
    # after the load, before the head path may start the next head
    readout: int = 0

    def out(self, k: int, unit: int) -> int:
        """Cycles from pass k's start to unit `unit` leaving its engine's finalizers."""
        ln = self.lanes[k]
        return self.passes[k].out(unit, ln.walk, ln.result_delay)

    def write(self, k: int, unit: int) -> int:
        """Cycles from pass k's start to unit `unit`'s state write."""
        return self.out(k, unit) + 1 + self.cell_latency

    def span(self, k: int) -> int:
        """Cycles from pass k's start to the next pass's."""
        return self.passes[k].final + 1

    @property
    def layer_cycles(self) -> int:
        return sum(self.span(k) for k in range(self.layers))

    @property
    def head_done(self) -> int:
        """Cycles from the head pass's start to its last unit leaving the finalizers."""
        return self.out(self.layers, self.head_units - 1)

    @property
    def beside(self) -> bool:
        """The head of one step runs beside the next step's layers."""
        return self.head_engine and self.emit == "every"

    @property
    def head_period(self) -> int:
        """Cycles from a head's start until the head path may start the next one: its last
        unit, the argmax, the load of the output beat (and a streamed output's elements),
        then idle."""
        return self.head_done + self.argmax_cycles + 2 + self.readout

    @property
    def cycles_per_step(self) -> int:
        if self.emit == "last":
            return LAUNCH + self.layer_cycles + 1
        if self.beside:  # the next beat is taken no sooner than a head period later
            return max(LAUNCH + self.layer_cycles + 1, self.head_period)
        return self.latency

    def sequence_cycles(self, steps: int) -> int:
        """Cycles from accepting a sequence's first beat to accepting the next sequence's
        first, sequences back to back."""
        if self.beside:
            return steps * self.cycles_per_step
        return (steps - 1) * self.cycles_per_step + self.latency

    @property
    def latency(self) -> int:
        if self.emit == "hidden":
            L = self.layers
            return (LAUNCH + sum(self.span(k) for k in range(L - 1))
                    + self.write(L - 1, self.hidden - 1) + 2)
        return LAUNCH + self.layer_cycles + self.head_done + self.argmax_cycles + 2


def _needed(lay: PassLayout, sources: tuple[int, int], S: int, H: int):
    """(chunk index j, source vector, last unit needed) for every chunk of a pass that reads
    a hidden vector (source l + 1: layer l's h)."""
    for j in range(lay.chunks):
        src, c = (sources[0], j) if j < lay.chunks_a else (sources[1], j - lay.chunks_a)
        if src:
            yield j, src - 1, min((c + 1) * S, H) - 1


def solve(lanes: list[Lane], sources: list[tuple[int, int]], *, cell_latency: int,
          hidden: int, layers: int, emit: str, argmax_cycles: int, head_units: int,
          head_engine: bool = False, readout: int = 0, steps: int = 3) -> Timeline:
    """The least holds (see the module), found by running `steps` steps of passes back to
    back (with the head after the last when there is one) until no read comes too early.
    `lanes`: per pass, the engine it runs on (`head_engine`: the head's is its own)."""
    holds = [[0] * ln.layout.chunks for ln in lanes]
    order = list(range(layers))
    with_head = emit != "hidden"
    while True:
        times = [pass_times(ln.layout, ln.walk, holds[k], ln.order)
                 for k, ln in enumerate(lanes)]
        tl = Timeline(tuple(lanes), tuple(map(tuple, holds)), tuple(times), cell_latency,
                      hidden, layers, emit, argmax_cycles, head_units, head_engine, readout)
        # the passes' starts: steps back to back as the step FSM runs them
        runs, a = [], 0
        for t in range(steps):
            s = a + LAUNCH
            for k in order:
                runs.append((k, s))
                s += tl.span(k)
            if with_head and (emit == "every" or t == steps - 1):
                runs.append((layers, s))
            a += tl.cycles_per_step
        latest: dict[int, int] = {}  # layer -> start of its latest pass
        new = [list(h) for h in holds]
        for k, s in runs:
            for j, layer, unit in _needed(lanes[k].layout, sources[k], lanes[k].simd, hidden):
                if layer in latest:
                    p = latest[layer]
                    need = p + tl.write(layer, unit) + 1 - s
                    new[k][j] = max(new[k][j], need)
            if k < layers:
                latest[k] = s
        if new == holds:
            return tl
        holds = new
