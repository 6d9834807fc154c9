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


# a code memory whose banks at Placement.bank_depth hold more read register bits than this
# (banks x word bits) gets deeper banks where they take no more block RAM
# (Placement.bank_depth_for): each bank's read register feeds the select, and on the ECP5 a
# ternary GRU 736 at 9 x 2 lanes, 183 banks of 36 bits, and an int8 LSTM 320 at 36 x 2, 13
# banks of 576 bits (6588 and 7488 register bits into one select), were at nextpnr's third
# routing iteration with 27-36k overused wires after 7-18 minutes (docs/hardware.md)
DEEPEN_OVER_BITS = 4096
# deeper banks may take this share more blocks than banks of `bank_depth` (a longer last
# bank): the ternary GRU 752 at 9 x 4 in 48 banks of 1024 x 72 (3456 register bits; 190
# blocks) was still routing after 30 minutes, and in 24 of 2048 it takes 192
DEEPEN_SLACK = 0.02


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
    `bank_width`, `bank_deepen`: a block RAM is `bank_width` bits wide at `bank_depth` words
    and half as wide at twice the depth; a code memory whose banks' read registers hold more
    than DEEPEN_OVER_BITS gets banks up to `bank_deepen` times deeper where they take no more
    blocks, or at most DEEPEN_SLACK more (`bank_depth_for`: the ECP5's DP16KD at 512 x 36,
    1024 x 18 and 2048 x 9); 1: never.

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
    bank_width: int = 0
    bank_deepen: int = 1

    def as_dict(self) -> dict:
        # the huge fields only where a design has memories there, the deeper banks' only
        # where a family has them: the manifests of others stay as they were (the build never
        # decides again, so it needs no huge_blocks)
        return {"bank_depth": self.bank_depth, "lutram_bits": self.lutram_bits,
                "logic_rom_depth": self.logic_rom_depth} | (
            {"huge_blocks": self.huge_blocks, "huge": list(self.huge)} if self.huge else {}
        ) | ({"bank_width": self.bank_width, "bank_deepen": self.bank_deepen}
             if self.bank_deepen > 1 else {})

    @classmethod
    def from_dict(cls, d: dict | None) -> Placement:
        d = d or {}
        return cls(int(d.get("bank_depth", 0)), int(d.get("lutram_bits", 0)),
                   int(d.get("logic_rom_depth", 0)), int(d.get("huge_blocks", 0)),
                   tuple(str(n) for n in d.get("huge", ())), int(d.get("bank_width", 0)),
                   int(d.get("bank_deepen", 1)))

    def bank_depth_for(self, word_bits: int, words: int) -> int:
        """The bank depth of a code memory of `words` words of `word_bits` bits:
        `bank_depth`, or a multiple k of it up to `bank_deepen` where the banks at
        `bank_depth` hold more than DEEPEN_OVER_BITS read register bits and banks k times
        deeper (blocks `bank_width` / k bits wide) take at most DEEPEN_SLACK more blocks,
        the deepest such that stays more than one bank (so the pipeline, with its bank
        stage, is the same): fewer banks, so fewer read registers and a narrower select, in
        about the same block RAM (the fit counts the blocks the banks take). A
        short last bank counts at the shallowest depth that holds it, or as none where it
        is a ROM in logic (`logic_rom_depth`)."""
        D = self.bank_depth
        banks = -(-words // D) if D else 0
        if self.bank_deepen <= 1 or banks <= 1 or banks * word_bits <= DEEPEN_OVER_BITS:
            return D

        def blocks(k: int) -> int:
            full, rest = divmod(words, D * k)
            j = 1
            while D * j < rest:
                j *= 2
            in_blocks = rest > (self.logic_rom_depth if full else 0)
            return (full * -(-word_bits // (self.bank_width // k))
                    + (-(-word_bits // (self.bank_width // j)) if in_blocks else 0))

        best, k = 1, 2
        while k <= self.bank_deepen and self.bank_width // k >= 1 and words > D * k:
            if blocks(k) <= (1 + DEEPEN_SLACK) * blocks(1):
                best = k
            k *= 2
        return D * best

    def with_huge(self, names) -> Placement:
        return replace(self, huge=tuple(names))

    def check(self) -> None:
        """One ValueError naming the first bad field."""
        b = self.bank_depth
        if not isinstance(b, int) or b < 0 or (b and (b < 2 or b & (b - 1))):
            raise ValueError(f"bank depth must be 0 or a power of two of at least 2, not {b!r}")
        k = self.bank_deepen
        if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k & (k - 1):
            raise ValueError(f"bank deepen must be a power of two of at least 1, not {k!r}")
        if k > 1 and (not b or not isinstance(self.bank_width, int)
                      or self.bank_width < k):
            raise ValueError(f"banks up to {k} times deeper need a bank depth and a block "
                             f"width of at least {k} bits, not {self.bank_width!r}")
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
