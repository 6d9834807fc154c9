"""The memories of a wide-lane design (hw.gen.topplan.TopPlan, which inherits
`PlanMemories`): their names, widths and depths, where each goes (flip-flops, logic,
distributed RAM, block RAM or the iCE40UP5K's SPRAM) and what a load writes into them.

The methods read the plan's `model`, `storage`, `placement`, `shape`, `simd`, `serial`,
`out_count`, `lanes` and `head_lanes`; this module imports nothing of hw.gen.topplan.
"""

from __future__ import annotations

from .loadport import LoadMemory

WEIGHTS = ("codes", "rowinfo", "lookup", "head_codes", "head_rowinfo")  # memory name prefixes


class PlanMemories:
    """The memory side of a TopPlan."""

    def ram_style(self, width: int, depth: int, rom: bool = False) -> str:
        """The yosys `ram_style` of a memory: flip-flops for storage "registers"; for one of
        at most `placement.lutram_bits` bits distributed RAM, or logic for a ROM (yosys maps
        no ROM to the ECP5's distributed RAM, and a small ROM is a few LUTs); else block
        RAM."""
        if self.storage == "registers":
            return "logic"
        if width * depth <= self.placement.lutram_bits:
            return "logic" if rom else "distributed"
        return "block"

    def logic_bank(self, name: str, depth: int) -> bool:
        """The memory `name` of memories() is a code bank after the first of at most
        `placement.logic_rom_depth` words, built in logic (Placement; never in a reloadable
        design, whose code banks are written)."""
        return (self.storage == "memory" and name.startswith("codes") and name[5:].isdigit()
                and name != "codes0" and depth <= self.placement.logic_rom_depth
                and self.shape is None and name not in self.placement.huge)

    @property
    def huge_memories(self) -> list[tuple[str, int, int]]:
        """(name, width, depth) of the memories in the large single-ported RAM: on the board
        they hold nothing until a load writes them."""
        return [(n, w, d) for n, w, d in self.memories()
                if self.memory_style(n, w, d) == "huge"]

    def memory_style(self, name: str, width: int, depth: int) -> str:
        """ram_style of the memory `name` of memories(): "huge" (yosys' name for the
        iCE40UP5K's SPRAM) for one the placement puts there (Placement.huge), logic for a
        logic_bank(); else ram_style() (the code banks and the row info are ROMs, but in a
        reloadable design)."""
        if self.storage == "memory" and name in self.placement.huge:
            return "huge"
        if self.logic_bank(name, depth):
            return "logic"
        return self.ram_style(width, depth, rom=name.startswith(WEIGHTS) and self.shape is None)

    def load_memories(self) -> list[LoadMemory]:
        """The memories a load writes (a reloadable design's), in memories()' order: the
        code banks, the row info, the lookup table, the head engine's; a memory's index is
        its id on the load interface (hw.gen.loadport)."""
        return [LoadMemory(n, w, d) for n, w, d in self.memories() if n.startswith(WEIGHTS)]

    def load_image(self) -> list[tuple[str, int, list[int]]]:
        """(name, width, words) of each of load_memories(): this plan's weights."""
        words = []
        for pl in (self.lanes, self.head_lanes):
            if pl is None:
                continue
            codes, D = list(pl.codes), pl.bank_depth
            words += ([codes] if pl.code_banks == 1 else
                      [codes[b * D:(b + 1) * D] for b in range(pl.code_banks)])
            words.append(pl.info_words())
            if pl.lookup is not None:
                words.append(list(pl.lookup.words))
        return [(lm.name, lm.width, w) for lm, w in zip(self.load_memories(), words,
                                                         strict=True)]

    @property
    def merged_h(self) -> bool:
        """Each layer's h is one memory of S-element words (written an element at a time,
        through a write enable per element) instead of S memories of one element: when those
        would each take a block RAM, which holds far more than a few elements (the iCE40:
        S = 8 memories of 4 words took 16 of its 30 block RAMs, one per read port)."""
        f, H, S = self.model.formats, self.model.hidden_size, self.simd
        return S > 1 and self.ram_style(f["state"].bits, 2 * -(-H // S)) == "block"

    def memories(self) -> list[tuple[str, int, int]]:
        """(name, width, depth) of every memory: the engine's and the state's."""
        f, H, S = self.model.formats, self.model.hidden_size, self.simd
        words = 2 * -(-H // S)
        mems = self.lanes.memories()
        if self.lanes.lookup is not None:
            *mems, table = mems
        *banks, info = mems
        out = ([("codes",) + banks[0]] if len(banks) == 1 else
               [(f"codes{b}",) + wd for b, wd in enumerate(banks)])
        out.append(("rowinfo",) + info)
        if self.lanes.lookup is not None:
            out.append(("lookup",) + table)
        if self.head_lanes is not None:
            *hbanks, hinfo = self.head_lanes.memories()
            out += ([("head_codes",) + hbanks[0]] if len(hbanks) == 1 else
                    [(f"head_codes{b}",) + wd for b, wd in enumerate(hbanks)])
            out.append(("head_rowinfo",) + hinfo)
        pl = self.lanes
        if pl.order == "columns":
            out.append(("sums", pl.lanes * pl.acc_bits, max(2, pl.max_groups)))
            if pl.has_first_halves:
                out.append(("firsts", pl.lanes * pl.acc_bits, max(2, pl.max_groups)))
        for li in range(self.model.num_layers):
            out += ([(f"h{li}", S * f["state"].bits, words)] if self.merged_h else
                    [(f"h{li}_{s}", f["state"].bits, words) for s in range(S)])
            if self.model.cell == "lstm":
                out.append((f"c{li}", f["cell"].bits, H))
        if self.serial:
            out.append(self.out_memory)
        return out

    @property
    def out_memory(self) -> tuple[str, int, int]:
        """A streamed output's memory (hw.gen.serial): a word of the head's rows a walk
        step (its engine's finalizers), one word a step."""
        hp = self.head_lanes or self.lanes
        return "outputs", hp.finalizers * hp.res_bits, max(2, -(-self.out_count // hp.finalizers))
