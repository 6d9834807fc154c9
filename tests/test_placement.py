"""hw.gen.placement and the fit's SPRAM: which memories go to the iCE40UP5K's single-ported
RAM (hw.gen.fit.place_huge), how they are counted, and what the manifest records."""

import dataclasses

import pytest

from hw.board.registry import BOARDS
from hw.gen.fit import block_rams, estimate, fits, place_huge
from hw.gen.placement import Placement, huge_blocks_of
from hw.gen.topplan import TopPlan, plan_for
from hw.random_model import random_model

ICE = BOARDS["icebreaker"].device


def gru(hidden, scheme="ternary"):
    return random_model(cell="gru", scheme=scheme, input_size=16, hidden_size=hidden,
                        outputs=10, seed=0)


def test_blocks_of_a_memory():
    # side by side for the width, one after another for the depth (16K x 16 each)
    assert huge_blocks_of(16, 16384) == 1
    assert huge_blocks_of(48, 8192) == 3
    assert huge_blocks_of(24, 6400) == 2
    assert huge_blocks_of(32, 32768) == 4
    assert huge_blocks_of(6, 16385) == 2


def test_codes_go_to_spram_when_block_ram_does_not_hold_them():
    """A ternary GRU 96 at 3 x 2: its 12-bit code words (5568) would take 18 block RAMs
    (three wide, six deep), more than the 28 hold beside its other memories; in SPRAM they
    take one block, and everything else stays in block RAM."""
    tp = TopPlan.of(gru(96), parallel=3, simd=2, image=False, placement=ICE.placement)
    mems = {n: (w, d) for n, w, d in tp.memories()}
    assert mems["codes"] == (12, 5568)
    before = estimate(tp, ICE)
    assert before.brams > ICE.brams_for_design and not fits(before, ICE)
    placed = tp.on(ICE)
    assert placed.placement.huge == ("codes",)
    assert placed.huge_memories == [("codes", 12, 5568)]
    assert placed.memory_style("codes", 12, 5568) == "huge"
    assert [placed.memory_style(n, w, d) for n, w, d in placed.memories()
            if n != "codes"] == ["block"] * (len(mems) - 1)
    after = estimate(placed, ICE)
    assert after.huge_blocks == huge_blocks_of(12, 5568) == 1
    assert after.brams == before.brams - block_rams("codes", 12, 5568, ICE)
    assert fits(after, ICE)
    # nothing else changes: cycles, timing and the code words are the same design's
    assert (placed.cycles_per_step, placed.latency, placed.lanes) == \
        (tp.cycles_per_step, tp.latency, tp.lanes)


def test_nothing_moves_while_block_ram_holds_it_or_without_spram():
    small = TopPlan.of(gru(16), parallel=3, simd=8, image=False, placement=ICE.placement)
    assert small.on(ICE) is small and estimate(small, ICE).huge_blocks == 0
    big = TopPlan.of(gru(96), parallel=3, simd=8, image=False)  # no SPRAM in the placement
    assert place_huge(big, ICE) == Placement()
    hx = dataclasses.replace(ICE, placement=Placement())  # an iCE40 without SPRAM
    assert TopPlan.of(gru(96), parallel=3, simd=8, image=False,
                      placement=hx.placement).on(hx).placement.huge == ()
    regs = TopPlan.of(gru(16), parallel=3, simd=8, image=False, storage="registers",
                      placement=ICE.placement)
    assert regs.on(ICE).placement.huge == ()


def test_more_than_four_blocks_do_not_fit():
    """A GRU 384 at 3 x 8: 48-bit words, more than 16K of them, would take six blocks: they
    stay in block RAM, which does not hold them either."""
    tp = TopPlan.of(gru(384), parallel=3, simd=8, image=False,
                    placement=ICE.placement).on(ICE)
    (w, d), = [(w, d) for n, w, d in tp.memories() if n == "codes"]
    assert huge_blocks_of(w, d) == 6
    f = estimate(tp, ICE)
    assert tp.placement.huge == () and f.brams > ICE.brams_for_design and not fits(f, ICE)
    forced = estimate(TopPlan.of(gru(384), parallel=3, simd=8, image=False,
                                 placement=ICE.placement.with_huge(["codes"])), ICE)
    assert forced.huge_blocks == 6 and not fits(forced, ICE)
    with pytest.raises(ValueError, match="no folding of this gru 384 fits the iCE40UP5K"):
        TopPlan.auto(gru(384), ICE, image=False)


def test_auto_uses_spram_only_where_it_pays():
    """--parallel auto on the iCEBreaker: a GRU 256 fits only with its codes in SPRAM (no
    folding did before); a GRU 64 keeps a block RAM design; the GRU 128 fits only with
    SPRAM, so it gets it."""
    big = TopPlan.auto(gru(256), ICE, image=False)
    assert big.placement.huge == ("codes",) and fits(estimate(big, ICE), ICE)
    # SPRAM holds nothing at power-up: the design is reloadable, its shape has the placement
    assert big.shape is not None and big.shape.folding["placement"]["huge"] == ["codes"]
    no_spram = dataclasses.replace(ICE, placement=Placement())
    with pytest.raises(ValueError, match="no folding"):
        TopPlan.auto(gru(256), no_spram, image=False)
    small = TopPlan.auto(gru(64), ICE, image=False)
    assert small.placement.huge == () and small.shape is None  # fixed, as asked
    mid = TopPlan.auto(gru(128), ICE, image=False)
    assert mid.placement.huge == ("codes",)
    with pytest.raises(ValueError, match="no folding"):
        TopPlan.auto(gru(128), no_spram, image=False)


def test_the_manifest_records_the_placement_and_the_build_reads_it():
    tp = plan_for(gru(96), parallel=3, simd=8, placement=ICE.placement, device=ICE)
    d = tp.placement.as_dict()
    assert d["huge"] == ["codes"] and d["huge_blocks"] == 4
    back = Placement.from_dict(d)
    assert back == tp.placement
    # the build plans from the manifest's placement, with no device: the same memories
    again = plan_for(gru(96), parallel=3, simd=8, placement=back)
    assert again.huge_memories == tp.huge_memories
    # designs without SPRAM keep the manifest they had
    assert Placement(bank_depth=512).as_dict() == {"bank_depth": 512, "lutram_bits": 0,
                                                   "logic_rom_depth": 0}


def test_a_bad_huge_placement_is_one_error():
    with pytest.raises(ValueError, match="only code, lookup and head code memories go to "
                                         "the single-ported RAM, not 'h0'"):
        TopPlan.of(gru(16), parallel=3, simd=8, placement=Placement(huge=("h0",)))
    with pytest.raises(ValueError, match="puts memory 'head_codes' in the single-ported RAM, "
                                         "but this design's memories are codes, rowinfo"):
        TopPlan.of(gru(16), parallel=3, simd=8, placement=Placement(huge=("head_codes",)))


def test_the_board_build_refuses_codes_in_spram_without_a_load(tmp_path):
    """SPRAM powers up undefined: a fixed design with memories there is refused in one line
    before anything is elaborated for the tools (a reloadable one is built: its memories are
    filled by hw load)."""
    from hw.board.build import build
    from hw.errors import UserError

    with pytest.raises(UserError, match=r"^this design keeps codes in the icebreaker's SPRAM, "
                                        r"which has no initial contents: it must be "
                                        r"reloadable \(--reloadable, filled by hw load\)$"):
        build(gru(16), board=BOARDS["icebreaker"], parallel=3, simd=8, clock_hz=12e6,
              baud=115200, out_dir=tmp_path / "b",
              placement=Placement(huge_blocks=4, huge=("codes",)), progress=lambda s: None)
    assert not (tmp_path / "b").exists()


def test_a_reloadable_design_of_a_given_folding_is_placed_on_the_board():
    """--parallel P --reloadable --board icebreaker places the memories as auto does (SPRAM
    where block RAM does not hold them); a fixed design of that folding keeps block RAM (the
    build then says it does not fit), its Verilog as before."""
    from hw.gen.cli import generate

    _, rel = generate(gru(96), 3, simd=8, board="icebreaker", reloadable=True)
    assert rel.placement["huge"] == ["codes"] and rel.reload["preloaded"] is False
    _, fixed = generate(gru(96), 3, simd=8, board="icebreaker")
    assert "huge" not in fixed.placement and fixed.reload is None


@pytest.mark.parametrize("word_bits,words,depth", [
    (36, 98_304, 2048),  # 192 banks of 512 x 36 -> 48 of 2048 x 9, 192 blocks either way
    (576, 6208, 2048),  # the int8 LSTM 320 at 36 x 2: 12 x 16 -> 3 x 64, the last 64 words in
    # logic either way: 192 blocks
    (36, 512 * 16, 512),  # 16 banks of 36 bits: 576 register bits, kept
    (36, 512 * 120 + 1, 2048),  # 121 blocks at 512; 30 x 4 + the last word's 1 at 2048
    (72, 40_000, 1024),  # 512: 78 x 2 + 64 words in logic = 156; 1024: 39 x 4 + 64 words
    # = 156; 2048: 19 x 8 + 8 = 160, over 2 % more
    (72, 48_568, 2048),  # the GRU 752 at 9 x 4: 94 x 2 + 2 = 190; 23 x 8 + 8 = 192
    (36, 93_232, 2048),  # the GRU 736 at 9 x 2: 182 + 48 words in logic; 45 x 4 + 4 = 184
    (144, 21_980, 1024),  # 512: 42 x 4 + 4 = 172; 1024: 21 x 8 + 4; 2048: 10 x 16 + 16 = 176
    (2304, 1539, 512),  # the ULX3S GRU 752 at 72 x 16: 3 x 64 and 3 words in logic; 2 x 128
    (2304, 1024 + 100, 1024),  # 3 banks at 512: 2 x 64 + 64; at 1024: 128 + the last 64
])
def test_code_banks_get_deeper_where_they_take_no_more_block_ram(word_bits, words, depth):
    ecp5 = BOARDS["ulx3s"].device.placement
    assert (ecp5.bank_depth, ecp5.bank_width, ecp5.bank_deepen) == (512, 36, 4)
    assert ecp5.bank_depth_for(word_bits, words) == depth
    assert Placement(bank_depth=512, bank_width=36).bank_depth_for(word_bits, words) == 512


def test_the_deeper_banks_are_in_the_manifest_and_checked():
    ecp5 = BOARDS["ulx3s"].device.placement
    assert Placement.from_dict(ecp5.as_dict()) == ecp5
    assert ecp5.as_dict()["bank_deepen"] == 4
    with pytest.raises(ValueError, match="bank deepen must be a power of two of at least 1, "
                                         "not 3"):
        Placement(bank_depth=512, bank_width=36, bank_deepen=3).check()
    with pytest.raises(ValueError, match="banks up to 4 times deeper need a bank depth and a "
                                         "block width of at least 4 bits, not 0"):
        Placement(bank_depth=512, bank_deepen=4).check()
