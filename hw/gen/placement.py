"""Where a design's memories go: the storage style and a device family's `Placement`.

Plain Python (nothing is elaborated). hw.gen.topplan reads both when it decides a design;
hw.gen.fit gives each device its placement and decides which memories go to its large
single-ported RAM (`huge`) where the block RAM does not hold them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

STORAGES = ("memory", "registers")

# one block of the iCE40 UltraPlus's single-ported RAM (SB_SPRAM256KA): 16K words of 16 bits,
# read data registered like a block RAM's, no initial contents (it powers up undefined)
HUGE_WIDTH, HUGE_DEPTH = 16, 16384

# the memories that may go there: read-only in the datapath (one port), written by a load
# (docs/hardware.md, "Memory placement"); the h banks, sums and row info stay in block RAM
HUGE_CANDIDATES = ("codes", "lookup", "head_codes")


def huge_blocks_of(width: int, depth: int) -> int:
    """Blocks of HUGE_WIDTH x HUGE_DEPTH a memory takes: side by side for its width, one
    after another for its depth (what yosys' iCE40 memory library builds)."""
    return -(-width // HUGE_WIDTH) * -(-depth // HUGE_DEPTH)


def is_huge_candidate(name: str) -> bool:
    return name.startswith(HUGE_CANDIDATES) and name != "head_rowinfo"


@dataclass(frozen=True)
class Placement:
    """Where the memories go on a device family (`storage="memory"`).

    `bank_depth`: 0, or the code memory split into banks of this many words (a power of two:
    the device's block RAM depth at the code word's width), each bank read into its own
    register and then selected (hw.gen.lanes.LanePlan.bank_depth). `lutram_bits`: memories of
    at most this many bits are asked for distributed (LUT) RAM instead of block RAM (0: none;
    an iCE40 has no distributed RAM). `logic_rom_depth`: a code bank after the first of at
    most this many words is built in logic, not block RAM (0: never). Such a short last bank
    holds what is left over when the words do not fill whole banks (often the head, whose
    words are mostly zero lanes): in block RAM it would take as many blocks as a full bank,
    in logic each bit is a function of a few address bits, and a constant bit costs nothing.

    `huge_blocks`: the device's blocks of large single-ported RAM (the iCE40UP5K's four
    SB_SPRAM256KA, HUGE_WIDTH x HUGE_DEPTH each; 0: none). `huge`: the memories (names of
    hw.gen.topplan.TopPlan.memories()) placed there, yosys `ram_style = "huge"`: a design's
    decision (hw.gen.fit.place_huge), recorded in the manifest so that the build reads it and
    never decides again. Such a memory has no initial contents on the board, so a design with
    one is filled by a load (docs/hardware.md, "Memory placement")."""

    bank_depth: int = 0
    lutram_bits: int = 0
    logic_rom_depth: int = 0
    huge_blocks: int = 0
    huge: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        # the huge fields only where a design has memories there: the manifests of others
        # stay as they were (the build never decides again, so it needs no huge_blocks)
        return {"bank_depth": self.bank_depth, "lutram_bits": self.lutram_bits,
                "logic_rom_depth": self.logic_rom_depth} | (
            {"huge_blocks": self.huge_blocks, "huge": list(self.huge)} if self.huge else {})

    @classmethod
    def from_dict(cls, d: dict | None) -> Placement:
        d = d or {}
        return cls(int(d.get("bank_depth", 0)), int(d.get("lutram_bits", 0)),
                   int(d.get("logic_rom_depth", 0)), int(d.get("huge_blocks", 0)),
                   tuple(str(n) for n in d.get("huge", ())))

    def with_huge(self, names) -> Placement:
        return replace(self, huge=tuple(names))

    def check(self) -> None:
        """One ValueError naming the first bad field."""
        b = self.bank_depth
        if not isinstance(b, int) or b < 0 or (b and (b < 2 or b & (b - 1))):
            raise ValueError(f"bank depth must be 0 or a power of two of at least 2, not {b!r}")
        if not isinstance(self.lutram_bits, int) or self.lutram_bits < 0:
            raise ValueError(f"lutram bits must be a non-negative integer, not "
                             f"{self.lutram_bits!r}")
        d = self.logic_rom_depth
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            raise ValueError(f"logic ROM depth must be a non-negative integer, not {d!r}")
        h = self.huge_blocks
        if not isinstance(h, int) or isinstance(h, bool) or h < 0:
            raise ValueError(f"huge blocks must be a non-negative integer, not {h!r}")
        for name in self.huge:
            if not is_huge_candidate(name):
                raise ValueError(f"only code, lookup and head code memories go to the "
                                 f"single-ported RAM, not {name!r}")
