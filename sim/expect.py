"""What the generated top must send, and the bit-for-bit comparison with what it sent.

`expected_items` fills each driven sequence with its output beats (hw.beats.expected, the one
builder); `Checker` takes output beats in arrival order, compares every unit (data elements,
argmax, last) with them (hw.beats.differences, the one comparison) and records what came, so a
run can both fail at the first mismatch and compute a metric from the RTL's own numbers. Pure
Python: usable and tested outside a simulator. Must not import cocotb or train/.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hw.beats import Beats, describe, differences, expected
from hw.reference import Reference


@dataclass
class Item:
    """One driven sequence: `x` (T, inputs); `closed` when its last beat carries last = 1
    (an unclosed one is abandoned: a reset or the next `first` cuts it)."""

    label: str
    x: np.ndarray
    closed: bool = True
    data: np.ndarray | None = None  # expected beats (beats, n)
    argmax: np.ndarray | None = None  # (beats,) or None without a head
    last: np.ndarray | None = None  # (beats,) 0/1
    steps: np.ndarray | None = None  # the step each expected beat belongs to


def expected_items(ref: Reference, items: list[Item], emit: str) -> list[Item]:
    """Fill in each item's expected beats (hw.beats.expected, in one padded batch)."""
    beats = expected(ref, [it.x for it in items], emit, closed=[it.closed for it in items])
    for it, b in zip(items, beats, strict=True):
        it.data, it.argmax, it.last, it.steps = b.data, b.argmax, b.last, b.steps
    return items


class Mismatch(AssertionError):
    """The first difference between the RTL and the reference model."""


@dataclass
class Checker:
    """Compares arriving beats with the items' expected beats, in order.

    `stop_at_first` raises Mismatch at once; otherwise mismatches are counted and the first
    message kept. `got` keeps every received beat: (item index, data, argmax)."""

    items: list[Item]
    stop_at_first: bool = True
    mismatches: int = 0
    first: str | None = None
    got: list[tuple[int, list[int], int | None]] = field(default_factory=list)
    _item: int = 0
    _beat: int = 0

    def _skip_done(self) -> None:
        while self._item < len(self.items) and self._beat >= len(self.items[self._item].data):
            self._item, self._beat = self._item + 1, 0

    @property
    def pending(self) -> int:
        """Expected beats not yet received."""
        self._skip_done()
        return sum(len(it.data) for it in self.items[self._item:]) - self._beat

    def where(self) -> tuple[int, int] | None:
        """(item index, input step) of the next expected beat, or None when all came."""
        self._skip_done()
        if self._item >= len(self.items):
            return None
        return self._item, int(self.items[self._item].steps[self._beat])

    def _fail(self, msg: str) -> None:
        self.mismatches += 1
        if self.first is None:
            self.first = msg
        if self.stop_at_first:
            raise Mismatch(msg)

    def receive(self, data: list[int], argmax: int | None, last: int) -> None:
        self._skip_done()
        if self._item >= len(self.items):
            self.got.append((-1, list(data), argmax))
            self._fail(f"an extra output beat after all expected ones: data {list(data)}, "
                       f"last {last}")
            return
        it = self.items[self._item]
        k, step = self._beat, int(it.steps[self._beat])
        self.got.append((self._item, list(data), argmax))
        self._beat += 1
        diffs = differences(Beats(it.data, it.argmax, it.last, it.steps), k, data, argmax, last)
        if diffs:
            self._fail(describe(it.label, step, *diffs[0]))

    def cut(self, item: int) -> None:
        """A reset cut items up to `item`: the beats that came are all they send."""
        self._skip_done()
        if self._item <= item:
            self._item, self._beat = item + 1, 0

    def missing(self) -> None:
        """Call when the stream ended: every expected beat that never came is a mismatch."""
        if self.pending:
            item, step = self.where()
            n = self.pending
            self.mismatches += n - 1
            self._fail(f"sequence {self.items[item].label}, step {step}: {n} expected output "
                       f"beat(s) never came")
