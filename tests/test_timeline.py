"""hw.gen.timeline: the walk orders' issue times and holds, from the plan alone. The circuits'
measured cycles equal these (tests/test_gen_top.py's check_timing); here, what the orders are
for."""

from __future__ import annotations

import pytest

from hw.board.registry import BOARDS
from hw.gen.lanes import ORDERS
from hw.gen.options import AUTO
from hw.gen.timeline import pass_times
from hw.gen.topplan import TopPlan
from hw.random_model import random_model


def demo_like(emit="last"):
    """A GRU 16 with 8 inputs and a 10-class head, like the demo's digits model."""
    m = random_model(cell="gru", scheme="ternary", input_size=8, hidden_size=16, outputs=10,
                     seed=3)
    m.emit = emit
    return m


def test_rows_without_holds_is_a_group_every_period():
    """The rows walk with no holds: group g's last chunk at C + g max(C, walk) (a group
    every `period` cycles, as the plan's layout says)."""
    tp = TopPlan.of(demo_like(), parallel=6, simd=8, image=False)
    for lay in tp.lanes.layouts:
        t = pass_times(lay, tp.lanes.walk, [0] * lay.chunks, "rows")
        assert t.last == tuple(lay.chunks + g * lay.period for g in range(lay.groups))


def test_columns_overlap_the_steps_of_a_small_model():
    """One unit's rows a group, 8 columns a cycle: walking chunk by chunk, a step's first
    chunks (x, then the units the previous step finished first) run while the previous step's
    last units drain, so a step takes about the engine's bound; walking group by group every
    group needs the previous step's last unit, and each step pays the pipeline's latency."""
    m = demo_like()
    rows, cols = (TopPlan.of(m, parallel=3, simd=8, image=False, order=o) for o in ORDERS)
    assert rows.bound_cycles == cols.bound_cycles == 48
    assert cols.cycles_per_step <= 1.1 * cols.bound_cycles < 1.3 * cols.bound_cycles \
        < rows.cycles_per_step
    assert TopPlan.of(m, parallel=3, simd=8, image=False, order=AUTO).order == "columns"
    # the holds are what keeps the reads behind the writes: the recurrent chunks wait
    assert any(h > 1 for hs in cols.holds for h in hs)


@pytest.mark.parametrize("emit", ["every", "last"])
def test_columns_need_per_group_sums(emit):
    tp = TopPlan.of(demo_like(emit), parallel=3, simd=8, image=False, order="columns")
    names = [n for n, _, _ in tp.memories()]
    assert "sums" in names and "firsts" in names
    assert "sums" not in [n for n, _, _ in TopPlan.of(demo_like(emit), parallel=3, simd=8,
                                                       image=False).memories()]


def test_auto_folding_picks_the_order():
    fit = TopPlan.auto(demo_like(), BOARDS["icebreaker"].device, image=False)
    assert fit.order == "columns"
    big = random_model(cell="gru", scheme="ternary", input_size=16, hidden_size=256,
                       outputs=10, seed=0)
    rows, cols = (TopPlan.of(big, parallel=12, simd=8, image=False, order=o) for o in ORDERS)
    # rows: the latency is paid once a step of 2176 cycles; columns: several units a group
    # leave the cell one a cycle, so its last chunk is spaced out
    assert rows.cycles_per_step <= 1.01 * rows.bound_cycles < cols.cycles_per_step
    assert TopPlan.of(big, parallel=12, simd=8, image=False, order=AUTO).order == "rows"


def test_a_bad_order_is_one_error():
    with pytest.raises(ValueError, match="order must be one of rows, columns"):
        TopPlan.of(demo_like(), parallel=3, simd=8, order="diagonal")
