"""Streamed outputs (hw.gen.serial): a head's outputs leave as element beats out of a memory.

Exact against the reference model with the element beats gathered (every cell, emit every
and last, the head on the layers' engine and on its own, a last walk step with rows past the
outputs, ties from saturated inputs), the published cycles with the input always valid and
the output always ready, and where the readout leaves the layers no room.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_gen_top import check_against_reference, check_timing

from hw.gen.simulate import simulate
from hw.gen.timeline import LAUNCH
from hw.gen.topplan import SERIAL_OVER, TopPlan
from hw.random_model import extreme_inputs, random_inputs, random_model

# (cell, emit, head scheme (int8: a head engine of its own), lanes, columns)
CASES = [("gru", "every", None, 3, 2), ("gru", "last", None, 3, 1),
         ("lstm", "every", None, 4, 2), ("lstm", "last", None, 8, 1),
         ("rnn", "every", "int8", 1, 1), ("rnn", "last", "int8", 2, 1),
         ("gru", "every", "int8", 3, 2)]


@pytest.mark.parametrize("cell,emit,head,P,S", CASES)
def test_streamed_outputs_are_exact_and_take_their_published_cycles(cell, emit, head, P, S):
    # 23 outputs: the last walk step of a GRU's 3 (an LSTM's 4) rows has rows past them
    m = random_model(cell=cell, scheme="ternary", input_size=5, hidden_size=12, outputs=23,
                     emit=emit, head_scheme=head, seed=7)
    tp = TopPlan.of(m, parallel=P, simd=S, output="serial")
    assert tp.serial and (tp.head_folding is not None) == (head is not None)
    assert ("outputs",) == tuple(n for n, _, _ in tp.memories() if n == "outputs")
    rng = np.random.default_rng(7)
    seqs = [random_inputs(rng, m, (int(rng.integers(1, 6)),)) for _ in range(4)]
    seqs += list(extreme_inputs(m, 3)[:2])  # saturated: equal outputs, the first one wins
    top = tp.create()
    check_against_reference(top, seqs, simulate(top, seqs, idle=0.3, stall=0.3, seed=7))
    top = tp.create()
    trace = simulate(top, seqs[:3], seed=7)
    check_against_reference(top, seqs[:3], trace)
    check_timing(top, seqs[:3], trace)


@pytest.mark.parametrize("cell,P,S", [("gru", 6, 4), ("rnn", 2, 4)])
def test_streamed_outputs_with_the_columns_walk_and_two_layers(cell, P, S):
    m = random_model(cell=cell, scheme="ternary", input_size=5, hidden_size=12, num_layers=2,
                     outputs=25, emit="every", seed=11)
    tp = TopPlan.of(m, parallel=P, simd=S, order="columns", output="serial")
    assert tp.lanes.order == "columns"
    rng = np.random.default_rng(2)
    seqs = [random_inputs(rng, m, (int(rng.integers(1, 5)),)) for _ in range(3)]
    top = tp.create()
    check_against_reference(top, seqs, simulate(top, seqs, idle=0.2, stall=0.3, seed=2))
    top = tp.create()
    trace = simulate(top, seqs)
    check_against_reference(top, seqs, trace)
    check_timing(top, seqs, trace)


def test_the_readout_waits_for_a_slow_reader():
    """Long stalls on the output: the next head waits for the readout, nothing is lost."""
    m = random_model(cell="gru", scheme="ternary", input_size=5, hidden_size=12, outputs=30,
                     emit="every", seed=3)
    tp = TopPlan.of(m, parallel=3, simd=1, output="serial")
    rng = np.random.default_rng(3)
    seqs = [random_inputs(rng, m, (5,)) for _ in range(2)]
    top = tp.create()
    check_against_reference(top, seqs, simulate(top, seqs, stall=0.9, seed=3))


@pytest.mark.parametrize("emit", ["every", "last"])
def test_the_readout_fits_in_the_layers_time_exactly(emit):
    """n = LAUNCH + the layers' cycles: still every step on time; one more is refused (it
    would make the next head wait)."""
    base = random_model(cell="rnn", scheme="ternary", input_size=3, hidden_size=4, outputs=20,
                        emit=emit, seed=1)
    room = LAUNCH + TopPlan.of(base, parallel=1, simd=1, output="beat").timeline.layer_cycles
    m = random_model(cell="rnn", scheme="ternary", input_size=3, hidden_size=4, outputs=room,
                     emit=emit, seed=1)
    top = TopPlan.of(m, parallel=1, simd=1, output="serial").create()
    rng = np.random.default_rng(1)
    seqs = [random_inputs(rng, m, (t,)) for t in (3, 1, 1, 2)]
    trace = simulate(top, seqs)
    check_against_reference(top, seqs, trace)
    check_timing(top, seqs, trace)
    more = random_model(cell="rnn", scheme="ternary", input_size=3, hidden_size=4,
                        outputs=room + 1, emit=emit, seed=1)
    with pytest.raises(ValueError, match=f"reads its {room + 1} elements out while the next"):
        TopPlan.of(more, parallel=1, simd=1, output="serial")
    assert not TopPlan.of(more, parallel=1, simd=1).serial  # auto keeps the beat


def test_auto_streams_wide_heads_only():
    wide = random_model(cell="gru", scheme="ternary", input_size=4, hidden_size=16,
                        outputs=SERIAL_OVER + 1, emit="every")
    narrow = random_model(cell="gru", scheme="ternary", input_size=4, hidden_size=16,
                          outputs=SERIAL_OVER, emit="every")
    assert TopPlan.of(wide, parallel=3).serial and not TopPlan.of(narrow, parallel=3).serial
    assert not TopPlan.of(wide, parallel=3, output="beat").serial
    assert TopPlan.of(narrow, parallel=3, output="serial").serial
    hidden = random_model(cell="gru", scheme="ternary", input_size=4, hidden_size=16,
                          emit="hidden")
    with pytest.raises(ValueError, match="only a head's outputs stream"):
        TopPlan.of(hidden, parallel=3, output="serial")
    with pytest.raises(ValueError, match="output must be one of beat, serial, auto"):
        TopPlan.of(wide, parallel=3, output="wide")


def test_a_streamed_output_keeps_one_copy_of_the_outputs():
    """The point of it: no register per output (the beat's row registers and output beat),
    a memory instead; the manifest describes the element beat."""
    m = random_model(cell="gru", scheme="ternary", input_size=4, hidden_size=16, outputs=40,
                     emit="every")
    beat, serial = (TopPlan.of(m, parallel=3, output=o) for o in ("beat", "serial"))
    man = serial.manifest()
    assert set(man.output.fields) == {"data", "argmax", "end", "last"}
    assert man.output.fields["data"].count == 1 and man.outputs == 40
    assert beat.manifest().output.fields["data"].count == 40
    assert man.output.width < 40  # one element, the argmax, end, last
    assert man.latency == beat.latency - beat.argmax_cycles + serial.argmax_cycles


def test_a_streamed_output_behind_axi_stream_names():
    """`--ports axis`: tdata holds the element, the argmax and `end`; tlast is `last`."""
    from hw.gen.cli import generate

    m = random_model(cell="gru", scheme="ternary", input_size=4, hidden_size=16, outputs=20,
                     emit="every")
    text, man = generate(m, 3, ports="axis", output="serial")
    ports = {p: (off, w) for p, off, w in man.output.payload_ports}
    f = man.output.fields
    assert ports["m_axis_tlast"] == (f["last"].offset, 1)
    assert ports["m_axis_tdata"] == (0, f["last"].offset) and f["end"].offset < f["last"].offset
    assert "m_axis_tdata" in text
