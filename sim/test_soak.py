"""bench/soak.py's Verilator harness on two tiny models: stalls, idle cycles and a reset give
0 mismatches, and a reference that is one LSB off is reported as a mismatch (the check can
fail). One Verilator build per model; the negative check reuses the first model's folding."""

import re
from dataclasses import replace

import numpy as np

from bench import soak
from hw.gen.cli import generate
from hw.reference import Reference


def test_soak_harness_exact_and_can_fail(tmp_path):
    # a 2-layer GRU emitting every step (wide lanes), an LSTM emitting hidden (an output
    # payload wider than 64 bits: 8 units x 10 bits), both with stalls, idle and resets
    gru = replace(soak.make_case(1, 7, 300), layers=2, hidden=5, inputs=3, emit="every",
                  lanes=6, simd=2, storage="memory", idle=0.3, stall=0.3, resets=2)
    lstm = replace(soak.make_case(2, 7, 300), layers=1, hidden=8, inputs=2, emit="hidden",
                   lanes=4, simd=4, storage="registers", idle=0.1, stall=0.3, resets=1)
    for case in (gru, lstm):
        rec = soak.soak_one(case, tmp_path / f"m{case.index}")
        assert rec["error"] is None and rec["first_mismatch"] is None, rec
        assert rec["mismatches"] == 0
        assert rec["steps"] >= 300 and rec["beats"] >= 300
    # the LSTM's output payload really is wide
    raw = (tmp_path / "m2" / "top.v").read_text()
    assert re.search(r"output\s+\[(\d+):0\]\s+o__payload", raw)
    assert int(re.search(r"output\s+\[(\d+):0\]\s+o__payload", raw).group(1)) >= 64

    # the same GRU against a reference whose head bias is one LSB off
    model = gru.model()
    wrong = gru.model()
    wrong.head.bias[1] += 1
    rec = soak.soak_one(gru, tmp_path / "m1", model=model, ref_model=wrong)  # same build
    assert rec["mismatches"] > 0
    m = re.search(r"sequence m1 segment (\d+) sequence (\d+), step (\d+), unit data\[1\]: "
                  r"expected (-?\d+), got (-?\d+)", rec["first_mismatch"])
    assert m, rec["first_mismatch"]
    seg, seq, step, exp, got = map(int, m.groups())
    assert exp == got + 1
    # the RTL's value is the true model's logit (recomputed from the same stimulus)
    man_rng = np.random.default_rng([gru.seed, 1])
    _, man = generate(model, gru.lanes, storage=gru.storage, simd=gru.simd)
    segs = soak.stimulus(gru, model, man, man_rng)
    x = segs[seg].sequences[seq][:step + 1]
    ref = Reference(model)
    assert got == ref.head(ref.run(x)[-1])[1]


def test_soak_reloads_between_segments(tmp_path):
    """A reloadable case of one segment: the other model loaded before it through the
    harness's load port (bench.soak loads it before segments 0, 2, ... and the model itself
    before 1, 3, ...), its beats against the other model's. The two models' beats differ on
    those sequences, so matching them shows the load. Its code words are in SPRAM (one address
    shared by the load's writes and the engine's reads)."""
    case = replace(soak.make_case(1, 7, 200), layers=1, hidden=4, inputs=3, emit="last",
                   lanes=3, simd=2, storage="memory", idle=0.1, stall=0.2, resets=0,
                   onehot=False, head_int8=False, head_lanes=0, reloadable=True, huge=True)
    rec = soak.soak_one(case, tmp_path / "m1")
    assert rec["error"] is None and rec["first_mismatch"] is None, rec
    assert rec["mismatches"] == 0 and rec["steps"] >= 200
    _, man = generate(case.model(), case.lanes, storage=case.storage, simd=case.simd,
                      reloadable=True, placement=case.placement)
    assert man.placement["huge"] == ["codes"]
    segs = soak.stimulus(case, case.model(), man, np.random.default_rng([case.seed, 1]))
    other, model = Reference(case.other_model(man)), Reference(case.model())
    x = segs[0].sequences
    assert any(not np.array_equal(other.predict(s), model.predict(s)) or
               not np.array_equal(other.head(other.run(s)[-1]), model.head(model.run(s)[-1]))
               for s in x)
