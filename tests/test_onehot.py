"""One-hot inputs (issue 29): the model file's `input_onehot`, the reference's column lookup,
the token beat of both engines' tops, and the board link's token bytes."""

import json

import numpy as np
import pytest

from hw import modelfile
from hw.beats import expected
from hw.board import protocol
from hw.gen.simulate import simulate
from hw.gen.topplan import plan_for
from hw.random_model import extreme_inputs, random_inputs, random_model
from hw.reference import Reference


def _onehot(**kw):
    return random_model(onehot=True, **kw)


def test_the_model_file_keeps_and_checks_the_vocabulary():
    m = _onehot(cell="gru", input_size=9, hidden_size=4)
    d = json.loads(json.dumps(m.as_dict()))
    assert d["input_onehot"] == 9 and modelfile.from_dict(d).input_onehot == 9
    assert modelfile.from_dict(d).beat_inputs == 1
    assert modelfile.from_dict(d).beat_element == (4, False)  # tokens 0..8 in 4 bits
    bad = dict(d, input_onehot=8)
    with pytest.raises(modelfile.ModelError, match="input_onehot is 8 but input_size is 9"):
        modelfile.from_dict(bad)
    bad = dict(d, input_transform={"offset": [0.0] * 9, "scale": [1.0] * 9})
    with pytest.raises(modelfile.ModelError, match="input_onehot with an input_transform"):
        modelfile.from_dict(bad)
    bad = json.loads(json.dumps(d))
    bad["formats"]["input"] = {"bits": 8, "frac": 7}
    with pytest.raises(modelfile.ModelError, match="a one-hot input needs 1.0 representable"):
        modelfile.from_dict(bad)
    with pytest.raises(modelfile.ModelError, match="input_onehot must be an integer"):
        modelfile.from_dict(dict(d, input_onehot=True))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("scheme", ["binary", "ternary", "exponential", "int8"])
def test_the_lookup_is_the_product_with_one_hot_vectors(cell, scheme):
    """The reference takes a one-hot model's tokens and reads one column of the input matrix;
    the same model without the flag, given the one-hot vectors (1.0 at the token), computes
    the same integers by its matrix-vector products, on every layer and the head."""
    m = _onehot(cell=cell, scheme=scheme, input_size=7, hidden_size=5, num_layers=2, seed=3,
                emit="every", input_scheme="int8" if scheme != "int8" else "ternary")
    plain = modelfile.from_dict({k: v for k, v in m.as_dict().items() if k != "input_onehot"})
    rng = np.random.default_rng(1)
    tokens = np.concatenate([random_inputs(rng, m, (4, 6)), extreme_inputs(m, 6)])
    vectors = m.input_vectors(tokens)
    assert vectors.shape == (7, 6, 7) and set(np.unique(vectors)) == {0, 64}
    a, b = Reference(m), Reference(plain)
    assert np.array_equal(a.head(a.run(tokens)), b.head(b.run(vectors)))


def test_a_token_outside_the_vocabulary_is_refused():
    m = _onehot(input_size=5)
    with pytest.raises(ValueError, match="token 5 is outside the vocabulary 0..4"):
        Reference(m).run(np.array([[[1], [5]]]))
    with pytest.raises(ValueError, match=r"has 5 elements per step, the model takes 1 \(token\)"):
        Reference(m).run(np.zeros((1, 2, 5), dtype=np.int64))


@pytest.mark.parametrize("cell,parallel,simd", [("gru", 3, 2), ("lstm", 8, 4), ("rnn", 2, 1),
                                                ("gru", "unrolled", 1)])
def test_the_tops_take_a_token_a_beat(cell, parallel, simd):
    m = _onehot(cell=cell, scheme="ternary", input_scheme="int8", head_scheme="int8",
                input_size=6, hidden_size=4, emit="every", seed=4)
    kw = {} if parallel == "unrolled" else {"simd": simd}
    top = plan_for(m, parallel=parallel, **kw).create()
    assert len(top.i.payload.data) == 1  # one unsigned token, not 6 elements
    rng = np.random.default_rng(5)
    seqs = [random_inputs(rng, m, (n,)) for n in (3, 1, 4)] + list(extreme_inputs(m, 3))
    trace = simulate(top, seqs, idle=0.3, stall=0.3, seed=6)
    want = [tuple(int(v) for v in row) for e in expected(Reference(m), seqs, top.emit)
            for row in e.data]
    assert [b.data for b in trace.beats] == want


def test_the_board_link_sends_tokens_as_unsigned_bytes():
    link = protocol.Link(input_size=1, in_bytes=1, out_n=2, out_bytes=2, argmax_bytes=1,
                         emit="every", fingerprint=0, fifo_depth=16, clock_hz=12_000_000)
    body = protocol.Deframer().feed(link.encode_step([200], first=True, last=False))
    assert body == [(protocol.T_STEP | 1, bytes([200]))]


@pytest.mark.parametrize("parallel", [3, "unrolled"])
def test_a_token_outside_the_vocabulary_reads_as_the_zero_vector(parallel):
    """The hardware's one defined answer to a token the reference refuses: the zero input
    vector (the lookup table's extra column of zeros), compared with the same model run on
    an all-zero input vector."""
    m = _onehot(cell="gru", scheme="ternary", input_scheme="int8", input_size=5,
                hidden_size=3, emit="every", seed=8)
    plain = modelfile.from_dict({k: v for k, v in m.as_dict().items() if k != "input_onehot"})
    top = plan_for(m, parallel=parallel,
                   **({} if parallel == "unrolled" else {"simd": 2})).create()
    beats = simulate(top, [np.array([[2], [7], [6], [1]])]).beats  # 7 and 6 are outside
    vectors = m.input_vectors(np.array([[2], [0], [0], [1]]))
    vectors[1:3] = 0
    ref = Reference(plain)
    want = ref.head(ref.run(vectors))
    assert [b.data for b in beats] == [tuple(int(v) for v in row) for row in want]
