"""The load interface of a reloadable design: its weight memories written at run time.

A reloadable `ModelTop` (docs/hardware.md, "Reloadable weights") lists the memories a load
writes (`LoadMemory`: the code words, row info, lookup table, head engine's codes and row
info, in that order; a memory's id is its index) and takes writes on its `load` port a byte
at a time: in a cycle with `en` (and `ready`), byte `lane` of word `addr` of memory `mem`
(its bits 8 lane .. 8 lane + 7; a memory is `word_bytes` bytes wide, the bits past `width`
unused) becomes `data`. A word is never assembled outside the memory, and any memory with
byte lanes (block RAM, distributed RAM, the UP5K's SPRAM with its nibble mask) takes them.
`ready` says that no step is in flight and no weight is being read, so a write never reaches
a step half-computed; the writer waits for it. What may run meanwhile (nothing, in the board's
link: hw/board/loader.py refuses steps until the load is committed) is the writer's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..errors import UserError


class ShapeMismatch(UserError, ValueError):
    """A model that does not fit a reloadable design's shape (hw.gen.shape): the message names
    what does not fit."""


@dataclass(frozen=True)
class LoadMemory:
    name: str
    width: int
    depth: int

    @property
    def word_bytes(self) -> int:
        """Bytes a word takes on the link (little-endian, zero-extended) and byte lanes in
        the memory."""
        return (self.width + 7) // 8

    @property
    def lane_width(self) -> int:
        """The memory's width with whole byte lanes."""
        return 8 * self.word_bytes


def load_signature(memories: list[LoadMemory]) -> wiring.Signature:
    """The writer's side of the load interface for `memories` (the core takes it flipped)."""
    if not memories:
        raise ValueError("a load interface needs at least one memory")
    return wiring.Signature({
        "mem": Out(range(max(2, len(memories)))),
        "addr": Out(range(max(2, max(m.depth for m in memories)))),
        "lane": Out(range(max(2, max(m.word_bytes for m in memories)))),
        "data": Out(8),
        "en": Out(1),
        "ready": In(1),
    })
