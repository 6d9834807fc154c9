"""The board top in cocotb: hw/board/host.py's run_testset over the simulated serial line,
against the generated ModelTop, bit-exact to the reference model (sim/board_tb.py)."""

import numpy as np
import pytest

from hw import metrics
from hw.gen.topplan import TopPlan
from hw.random_model import random_inputs, random_model
from sim.board_runner import run_board_sim


def make_testset(model, n, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 5, n)
    x = random_inputs(rng, model, (n, int(lengths.max())))
    return metrics.TestSet(x, lengths, rng.integers(0, 3, n))


CASES = {
    # name: (model arguments, emit, parallel, corrupt {frame: byte}, garbage)
    "gru-ternary-last": (dict(cell="gru", scheme="ternary", outputs=3), "last", 6, {}, b""),
    "lstm-exponential-hidden": (dict(cell="lstm", scheme="exponential", outputs=None),
                                "hidden", 4, {}, b""),
    "rnn-int8-every-errors": (dict(cell="rnn", scheme="int8", outputs=3), "every", 2,
                              {5: 3}, bytes((0x12, 0xC0, 0xDB, 0x00, 0xC0, 0x99, 0x10))),
    # 20 outputs: they stream out of a memory (hw.gen.serial) into the frame encoder
    "gru-ternary-every-streamed": (dict(cell="gru", scheme="ternary", outputs=20,
                                        hidden_size=8), "every", 3, {}, b""),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_board_top_runs_testset_bit_exact(name, tmp_path):
    kwargs, emit, parallel, corrupt, garbage = CASES[name]
    model = random_model(**{"input_size": 3, "hidden_size": 4, "seed": 7, **kwargs})
    if kwargs["outputs"]:
        model.emit = emit
    ts = make_testset(model, n=5, seed=1)
    rep = run_board_sim(model, ts, tmp_path / name, parallel=parallel, corrupt=corrupt,
                        garbage=garbage)
    assert rep["ok"] and rep["mismatches"] == []
    assert rep["steps"] == int(ts.lengths.sum())
    assert rep["beats"] == (len(ts) if emit == "last" else rep["steps"])
    assert rep["resyncs"] == (1 if corrupt else 0)
    # (the board's core is TopPlan.of(model, parallel=P): auto streams 20 outputs)
    assert TopPlan.of(model, parallel=parallel).serial == (kwargs["outputs"] == 20)
