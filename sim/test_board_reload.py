"""A reloadable board top in cocotb (sim/board_tb.py's reload_over_uart): a design generated
for model A, loaded with B over the simulated UART by hw load's own code, each test set bit
for bit against the reference of the model loaded, then a corrupted load that must leave the
board refusing to run, then A loaded again."""

import numpy as np

from hw.gen.placement import Placement
from hw.random_model import random_model
from sim.board_runner import run_board_reload_sim
from sim.test_board_top import make_testset


def models():
    """A and B: the same structure and level exponents (a ternary matrix's is the trainer's,
    fixed by its size), other weights and biases."""
    kw = dict(cell="gru", scheme="ternary", outputs=3, input_size=3, hidden_size=4)
    a, b = random_model(seed=7, **kw), random_model(seed=8, **kw)
    for (_, mb), (_, ma) in zip(b.matrices(), a.matrices(), strict=True):
        mb.scale[:] = ma.scale
    return a, b


def test_board_reloads_models_bit_exact(tmp_path):
    a, b = models()
    ts = make_testset(a, n=4, seed=2)
    rep = run_board_reload_sim([a, b], ts, tmp_path, parallel=3, simd=2)
    assert rep["ok"]
    assert [ph["model"] for ph in rep["phases"]] == [0, 1, 0]
    assert all(ph["ok"] and ph["mismatches"] == [] for ph in rep["phases"])
    assert [ld["model"] for ld in rep["loads"]] == [1, 0]
    assert all(ld["attempts"] == 1 for ld in rep["loads"])
    # the load took the line's time for its bytes, not much more (10 bits a byte at 1 Mbaud)
    for ld in rep["loads"]:
        assert ld["bytes"] * 10e-6 <= ld["sim_seconds"] < 3 * ld["bytes"] * 10e-6 + 2e-3
    assert rep["broken"]["state"] == 2
    assert np.all(ts.lengths >= 1)


def test_board_reloads_models_with_codes_in_spram(tmp_path):
    """The same with the code words in the iCE40UP5K's SPRAM (a placement naming them, as
    --parallel auto makes for a model whose codes the block RAM does not hold): the SPRAM
    holds nothing at power-up, so the board runs only after A is loaded; then B, every output
    exact (the corrupted load is the test above's: the load port is the same). The
    simulation's SPRAM is the generic memory yosys maps onto SB_SPRAM256KA at synthesis: its
    one address shared by the load's writes and the engine's reads is what is checked."""
    a, b = models()
    ts = make_testset(a, n=2, seed=3)
    rep = run_board_reload_sim([a, b], ts, tmp_path, parallel=3, simd=2, broken=False,
                               placement=Placement(huge_blocks=4, huge=("codes",)))
    man = (tmp_path / "m0" / "manifest.json").read_text()
    assert '"huge": [\n      "codes"' in man or '"huge": ["codes"]' in man
    assert rep["ok"]
    assert [ph["model"] for ph in rep["phases"]] == [1, 2]  # A (loaded), B
    assert all(ph["ok"] and ph["mismatches"] == [] and ph["steps"] > 0
               for ph in rep["phases"])
    assert [ld["model"] for ld in rep["loads"]] == [1, 2]
