"""Where a design's memories go: the storage style and a device family's `Placement`.

Plain Python (nothing is elaborated). hw.gen.topplan reads both when it decides a design;
hw.gen.fit gives each device its placement.
"""

from __future__ import annotations

from dataclasses import dataclass

STORAGES = ("memory", "registers")


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
    in logic each bit is a function of a few address bits, and a constant bit costs nothing."""

    bank_depth: int = 0
    lutram_bits: int = 0
    logic_rom_depth: int = 0

    def as_dict(self) -> dict:
        return {"bank_depth": self.bank_depth, "lutram_bits": self.lutram_bits,
                "logic_rom_depth": self.logic_rom_depth}

    @classmethod
    def from_dict(cls, d: dict | None) -> Placement:
        d = d or {}
        return cls(int(d.get("bank_depth", 0)), int(d.get("lutram_bits", 0)),
                   int(d.get("logic_rom_depth", 0)))

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
