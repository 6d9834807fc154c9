"""hw.cell.CellParams: the circuit built from it (hw.gen.cell.CellUnit, pipelined) equals its
`compute()` (what the reference model runs), exhaustively on small formats and at random on
the default ones."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Fragment, Module
from amaranth.sim import Simulator

from hw.cell import CellParams
from hw.gen.cell import CellUnit
from hw.numerics import Fixed, Formats


def run_circuit(p: CellParams, pre, h, c, pipelined=True):
    """Stream one unit a cycle through the circuit; h and c are presented at the stages the
    unit publishes (`h_stage`, `c_stage`), as ModelTop does."""
    cu = CellUnit(params=p, pipelined=pipelined)
    m = Module()
    m.domains.sync = ClockDomain()
    m.submodules.cu = cu
    n = len(h)
    hs, cs = cu.h_stage or 0, cu.c_stage or 0
    got_h, got_c = [], []

    async def bench(ctx):
        for t in range(n + cu.latency + max(hs, cs) + 1):
            if t < n:
                for i in range(p.pre_values):
                    ctx.set(cu.pre[i], int(pre[i][t]))
            if 0 <= t - hs < n:
                ctx.set(cu.h, int(h[t - hs]))
            if p.cell == "lstm" and 0 <= t - cs < n:
                ctx.set(cu.c, int(c[t - cs]))
            if 0 <= t - cu.latency < n:
                got_h.append(ctx.get(cu.h_new))
                if p.cell == "lstm":
                    got_c.append(ctx.get(cu.c_new))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return np.array(got_h), (np.array(got_c) if got_c else None)


def check(p: CellParams, pre, h, c, pipelined=True):
    want_h, want_c = p.compute(pre, h, c)
    got_h, got_c = run_circuit(p, pre, h, c, pipelined)
    bad = np.flatnonzero(got_h != want_h)
    assert bad.size == 0, (f"{p.cell} {p.kind}: unit {bad[0]} (pre {[int(x[bad[0]]) for x in pre]}"
                           f", h {int(h[bad[0]])}): expected h' {want_h[bad[0]]}, got "
                           f"{got_h[bad[0]]}")
    if p.cell == "lstm":
        bad = np.flatnonzero(got_c != want_c)
        assert bad.size == 0, f"lstm: unit {bad[0]}: expected c' {want_c[bad[0]]}, got " \
                              f"{got_c[bad[0]]}"


# small formats: every combination of inputs (3-bit pre-activations and state, 4-bit cell)
SMALL = dict(state=Fixed(3, 1), preact=Fixed(3, 1), cell_fmt=Fixed(4, 1))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_every_input_of_small_formats(cell):
    p = CellParams(cell, "hard", **SMALL)
    pv = range(SMALL["preact"].min, SMALL["preact"].max + 1)
    last = (range(SMALL["cell_fmt"].min, SMALL["cell_fmt"].max + 1) if cell == "lstm"
            else range(SMALL["state"].min, SMALL["state"].max + 1))
    combos = np.array(list(itertools.product(*([pv] * p.pre_values), last)), dtype=np.int64)
    pre = [combos[:, i] for i in range(p.pre_values)]
    h = combos[:, -1] if cell != "lstm" else np.zeros(len(combos), dtype=np.int64)
    c = combos[:, -1] if cell == "lstm" else None
    check(p, pre, h, c)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("kind", ["hard", "pwl"])
@pytest.mark.parametrize("pipelined", [True, False])
def test_random_inputs_of_the_default_formats(cell, kind, pipelined):
    f = Formats()
    p = CellParams(cell, kind, f.state, f.preact, f.cell)
    rng = np.random.default_rng(len(cell) * 10 + len(kind))
    n = 800
    # uniform inputs, plus the formats' extremes (saturations and clamps)
    pre = [np.concatenate([rng.integers(p.preact.min, p.preact.max + 1, n),
                           [p.preact.min, p.preact.max] * 4]) for _ in range(p.pre_values)]
    h = np.concatenate([rng.integers(p.state.min, p.state.max + 1, n),
                        [p.state.max, p.state.min] * 4])
    c = np.concatenate([rng.integers(p.cell_fmt.min, p.cell_fmt.max + 1, n),
                        [p.cell_fmt.min, p.cell_fmt.max] * 4])
    check(p, pre, h, c, pipelined)


def test_published_timing_is_a_pipeline():
    f = Formats()
    for cell in ("rnn", "gru", "lstm"):
        cu = CellUnit(params=CellParams(cell, "pwl", f.state, f.preact, f.cell))
        assert cu.latency > 0
        assert (cu.h_stage is not None) == (cell == "gru")
        assert (cu.c_stage is not None) == (cell == "lstm")
        comb = CellUnit(params=CellParams(cell, "pwl", f.state, f.preact, f.cell),
                        pipelined=False)
        assert comb.latency == 0
        Fragment.get(cu, None), Fragment.get(comb, None)  # and both build
