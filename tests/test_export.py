"""train/export.py: the model file, the integer test set and the reference run."""

import numpy as np
import pytest
import torch

from hw import metrics, modelfile
from hw.errors import UserError
from hw.numerics import Fixed
from train import data, export
from train.cells import Net
from train.loop import Inputs


def _net(quant, cell="gru", mode="hardware", **kw):
    torch.manual_seed(0)
    return Net(cell=cell, input_size=8, hidden=12, outputs=10, quant=quant, mode=mode, **kw).eval()


@pytest.fixture(scope="module")
def digits():
    return data.digits(0)


@pytest.mark.parametrize("quant,scheme,exps", [
    ("float", "int16", None), ("ternary", "ternary", (-1, -2)),
    ("binary-stoch", "binary", (-1, -2)),
    ("pow2-ternary", "pow2-ternary", None), ("exponential-stoch", "exponential", None),
    ("int4", "int4", None),
])
def test_schemes_and_levels_in_the_model_file(tmp_path, digits, quant, scheme, exps):
    net = _net(quant, levels=5)
    model = export.to_model(net, digits, {"task": "digits"})
    modelfile.save(model, tmp_path / "m.json")
    back = modelfile.load(tmp_path / "m.json")
    for name, m in back.matrices():
        assert m.scheme == scheme, name
        assert m.levels == (5 if scheme == "exponential" else 1)
    if exps:  # Glorot levels: sqrt(6/(8+12)) -> 2**-1, sqrt(6/24) -> 2**-1 ... per matrix
        assert back.layers[0].w_ih.scale[0] == round(np.log2(np.sqrt(6 / 20)))
        assert back.layers[0].w_hh.scale[0] == round(np.log2(np.sqrt(6 / 24)))
    assert back.meta == {"task": "digits"} and back.emit == "last"
    assert np.array_equal(back.input_offset, digits.offset)
    # codes are what the forward pass uses in evaluation
    codes, _ = net.rnn.codes("weight_hh_l0")
    assert np.array_equal(back.layers[0].w_hh.codes, codes.numpy())


def test_biases_are_rounded_half_up_and_saturated(digits):
    net = _net("ternary")
    with torch.no_grad():
        net.rnn.bias_ih_l0[:4] = torch.tensor([3 / 256, -3 / 256, 100.0, -100.0])
        net.head.bias[:2] = torch.tensor([1000.0, 1 / 512])
    m = export.to_model(net, digits)
    # Q12.7: 1.5 -> 2 and -1.5 -> -1 (half up), then saturation
    assert list(m.layers[0].b_ih[:4]) == [2, -1, 2047, -2048]
    assert list(m.head.bias[:2]) == [32767, 1]  # Q16.8 saturates; 0.5 rounds up


def test_testset_holds_the_integers_the_trainer_evaluated(digits):
    net = _net("ternary")
    model = export.to_model(net, digits)
    ts = export.testset(model, digits, digits.test)
    assert ts.x.shape == (359, 8, 8) and ts.x.dtype == np.int64
    inputs = Inputs(digits, export.shell(net, digits))
    x, lengths, y = inputs.batch(digits.test, np.arange(len(digits.test)), torch.float64)
    assert np.array_equal(ts.x, (x * 64).numpy().astype(np.int64))
    assert np.array_equal(ts.y, y.numpy()) and np.array_equal(ts.lengths, lengths.numpy())
    # pixels 0..16 divided by 16, with 6 fraction bits: exactly 4 times the pixel
    assert np.array_equal(ts.x, digits.test.x.astype(np.int64) * 4)


def test_padded_steps_are_zero_and_last_step_logits_use_lengths(tmp_path):
    rng = np.random.default_rng(1)
    rows = [(rng.normal(size=(t, 12)), 1 + i % 3) for i, t in enumerate((3, 7, 5, 4))]
    from tests.test_data import _ts

    (tmp_path / "JapaneseVowels_TRAIN.ts").write_text(_ts(rows))
    (tmp_path / "JapaneseVowels_TEST.ts").write_text(_ts(rows))
    task = data.vowels(tmp_path)
    torch.manual_seed(0)
    net = Net(cell="lstm", input_size=12, hidden=5, outputs=3, quant="ternary",
              mode="hardware").eval()
    model = export.to_model(net, task)
    ts = export.testset(model, task, task.test)
    assert (ts.x[0, 3:] == 0).all() and (ts.x[0, :3] != 0).any()
    logits = export.reference_outputs(model, ts, chunk=3)
    inputs = Inputs(task, export.shell(net, task))
    x, lengths, _ = inputs.batch(task.test, np.arange(4), torch.float64)
    with torch.no_grad():
        ours = net(x, lengths) * 256
    assert np.array_equal(logits, ours.round().long().numpy())


def test_every_step_logits_for_language_models(tmp_path):
    (tmp_path / "input.txt").write_text("abcabd" * 60)
    task = data.char(tmp_path, seq_len=10)
    torch.manual_seed(0)
    net = Net(cell="gru", input_size=task.input_size, hidden=6, outputs=task.input_size,
              emit="every", quant="exponential", mode="hardware").eval()
    model = export.to_model(net, task)
    assert model.emit == "every"
    ts = export.testset(model, task, task.test)
    logits = export.reference_outputs(model, ts)
    assert logits.shape == (len(ts), 10, task.input_size)
    bpc = metrics.task_metric("bpc", logits, ts.y, model.formats.output)
    assert 0 < bpc < 10


def test_an_accumulator_too_wide_for_exact_float64_is_refused(digits):
    net = _net("int8")
    with torch.no_grad():
        net.rnn.weight_hh_l0[0] = 1.0
        net.rnn.weight_hh_l0[1] = 2.0**-39
    with pytest.raises(UserError, match=r"needs \d+ bits \(more than 52\)"):
        export.to_model(net, digits)


def test_metric():
    fmt = Fixed(16, 8)
    task_metric = metrics.task_metric
    assert task_metric("accuracy", np.array([[1, 2], [3, 3], [0, -1]]), [1, 0, 1], fmt) == 2 / 3
    # uniform logits over 4 symbols: 2 bits each
    assert task_metric("bpc", np.zeros((2, 3, 4), dtype=np.int64),
                       np.array([[0, 1, 2], [3, -1, -1]]), fmt) == pytest.approx(2.0, abs=1e-12)
