"""train/cells.py: torch.nn compatibility; hardware mode equals hw.reference on every integer."""

import numpy as np
import pytest
import torch

from hw.numerics import Fixed, activate
from hw.random_model import random_inputs
from hw.reference import Reference
from train import data, export
from train import quantizers as Q
from train.cells import CELLS, Net, QuantGRU, QuantLSTM
from train.ste import Activation, integers, round_to, saturate_real, to_format

NN = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}


@pytest.mark.parametrize("cell", list(CELLS))
def test_a_torch_nn_state_dict_loads_and_float_weights_mode_equals_torch(cell):
    torch.manual_seed(0)
    ref = NN[cell](5, 7, num_layers=2, batch_first=True)
    ours = CELLS[cell](5, 7, 2, quant="float", mode="weights")
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 11, 5)
    assert torch.equal(ours(x), ref(x)[0])


@pytest.mark.parametrize("cell", list(CELLS))
def test_weights_mode_runs_torch_on_the_quantized_weights(cell):
    torch.manual_seed(1)
    ours = CELLS[cell](4, 6, 1, quant="ternary", mode="weights").eval()
    ref = NN[cell](4, 6, batch_first=True)
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.copy_(ours.qweight(name) if name.startswith("weight") else getattr(ours, name))
    vals = torch.cat([ref.weight_ih_l0.flatten(), ref.weight_hh_l0.flatten()]).unique()
    assert len(vals) == 3  # ternary: -L, 0, +L
    x = torch.randn(2, 9, 4)
    assert torch.equal(ours(x), ref(x)[0])


def test_activation_lookup_is_hw_activate_with_a_smooth_gradient():
    fin, fout = Fixed(12, 7), Fixed(10, 8)
    for func in ("sigmoid", "tanh"):
        act = Activation(func, "pwl", fin, fout)
        ints = np.arange(fin.min, fin.max + 1)
        a = torch.tensor(ints / fin.one, requires_grad=True)
        y = act(a)
        assert np.array_equal(integers(y, fout).numpy(), activate(func, "pwl", ints, fin, fout))
        y.sum().backward()
        assert (a.grad > 0).all()  # also on the flat segments


def _trained(cell, quant, layers=1, activation="pwl", steps=4, seed=0, hidden=6, inputs=5,
             rule="glorot", row_gain="none"):
    """A small hardware-mode net after a few training steps (weights away from their init;
    learned row gains start spread over -2..2 so that rows differ)."""
    torch.manual_seed(seed)
    net = Net(cell=cell, input_size=inputs, hidden=hidden, layers=layers, outputs=4,
              quant=quant, mode="hardware", activation=activation, levels=4, level_rule=rule,
              row_gain=row_gain)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("_gain"):
                p.uniform_(-2.4, 2.4)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(steps):
        x = torch.randn(16, 7, inputs).clamp(-2, 1.9).mul(64).round().div(64)
        y = torch.randint(0, 4, (16,))
        loss = torch.nn.functional.cross_entropy(net(x).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        net.clip_shadow_()
    return net.eval()


class _Digits:  # a task without an input transform, for export
    offset = scale = None
    onehot = False


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("quant,layers,activation,rule,gain", [
    ("ternary", 1, "pwl", "glorot", "none"), ("binary-stoch", 2, "hard", "glorot", "none"),
    ("pow2-ternary", 1, "hard", "glorot", "none"), ("exponential", 2, "pwl", "glorot", "none"),
    ("exponential-stoch", 1, "pwl", "glorot", "none"), ("int4", 1, "pwl", "glorot", "none"),
    ("int8", 1, "hard", "glorot", "none"), ("float", 1, "pwl", "glorot", "none"),
    ("ternary-stoch", 1, "hard", "glorot", "none"), ("binary", 1, "pwl", "glorot", "none"),
    ("ternary", 2, "pwl", "fit", "none"), ("pow2-ternary", 1, "pwl", "fit", "none"),
    ("ternary", 2, "pwl", "glorot", "learned"), ("exponential", 1, "hard", "glorot", "learned"),
])
def test_hardware_mode_equals_the_reference_on_every_integer(cell, quant, layers, activation,
                                                             rule, gain):
    net = _trained(cell, quant, layers, activation, seed=layers, rule=rule, row_gain=gain)
    model = export.to_model(net, _Digits())
    if gain == "learned":  # per-row exponents that differ within a matrix, stored as such
        m = model.layers[0].w_hh
        assert m.scheme == ("pow2-ternary" if quant == "ternary" else quant)
        assert len(np.unique(m.scale)) >= 3
    rng = np.random.default_rng(3)
    xs = random_inputs(rng, model, (40, 9))  # the format's extremes mixed in: saturation paths
    x = torch.from_numpy(xs / model.formats.input.one)
    with torch.no_grad():
        h = net.rnn(x)
        logits = net(x)
    ref = Reference(model)
    h_ref = ref.run(xs)
    h_ours = integers(h, model.formats.state).numpy()
    where = np.argwhere(h_ours != h_ref)
    assert where.size == 0, f"first difference at (seq, step, unit) {tuple(where[0])}"
    assert np.array_equal(integers(logits, model.formats.output).numpy(), ref.head(h_ref[:, -1]))
    assert len(np.unique(h_ref)) > 20  # not a degenerate model


def test_hardware_mode_emits_every_step_and_honours_lengths():
    torch.manual_seed(0)
    net = Net(cell="gru", input_size=3, hidden=5, outputs=4, emit="every", quant="ternary",
              mode="hardware").eval()
    x = torch.randint(-64, 64, (2, 6, 3)).double() / 64
    with torch.no_grad():
        every = net(x)
        net.emit = "last"
        last = net(x, torch.tensor([6, 3]))
    assert every.shape == (2, 6, 4)
    assert torch.equal(last[0], every[0, 5]) and torch.equal(last[1], every[1, 2])


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("gain", ["none", "learned"])
def test_hardware_mode_trains_every_parameter(cell, gain):
    """Every parameter gets a gradient, the learned row gains included."""
    torch.manual_seed(0)  # (a head whose ternary codes are all 0 would pass no gradient back)
    net = Net(cell=cell, input_size=3, hidden=4, layers=2, outputs=2, quant="ternary",
              mode="hardware", row_gain=gain)
    assert any(n.endswith("_gain") for n, _ in net.named_parameters()) == (gain == "learned")
    x = torch.randint(-64, 64, (8, 5, 3)).double() / 64
    torch.nn.functional.cross_entropy(net(x).float(), torch.randint(0, 2, (8,))).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_shadow_weights_are_clipped_to_the_ternary_level():
    g = QuantGRU(8, 32, quant="ternary")
    assert g._exp == {"weight_ih_l0": -1, "weight_hh_l0": -2}
    with torch.no_grad():
        g.weight_hh_l0.mul_(10)
    g.clip_shadow_()
    assert g.weight_hh_l0.abs().max() <= 0.25 and g.weight_ih_l0.abs().max() <= 0.5


def test_fit_rule_levels_follow_the_weights_and_clip_at_four_times_glorot():
    g = QuantGRU(8, 32, quant="ternary", level_rule="fit")
    with torch.no_grad():
        g.weight_hh_l0.mul_(10)
    g.clip_shadow_()  # Glorot level 2**-2: the fit rule clips at 1.0, not 0.25
    assert g.weight_hh_l0.abs().max() == 1.0 and g.weight_ih_l0.abs().max() <= 2.0
    _, scale = g.codes("weight_hh_l0")
    assert (scale == scale[0]).all() and scale[0] > -2  # grew with the weights


@pytest.mark.parametrize("quant", ["ternary", "pow2-ternary", "exponential", "float", "int8"])
def test_level_lr_scale_divides_each_ternary_matrix_rate_by_its_level(quant):
    net = Net(cell="gru", input_size=8, hidden=32, outputs=10, quant=quant, level_shift=1)
    groups = net.param_groups("level")
    seen = [id(p) for g in groups for p in g["params"]]
    assert sorted(seen) == sorted(id(p) for p in net.parameters())  # each exactly once
    want = {}
    if quant in ("ternary", "pow2-ternary"):  # levels 2**0 (ih), 2**-1 (hh), 2**0 (head)
        want = {id(net.rnn.weight_ih_l0): 1.0, id(net.rnn.weight_hh_l0): 2.0,
                id(net.head.weight): 1.0}
    for g in groups:
        for p in g["params"]:
            assert g["lr_scale"] == want.get(id(p), 1.0)
    assert [len(g["params"]) for g in net.param_groups("none")] == [6]
    with pytest.raises(ValueError, match="lr scale must be one of none, level, not 'x'"):
        net.param_groups("x")


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="hidden size must be a positive integer, not 0"):
        QuantGRU(3, 0)
    with pytest.raises(ValueError, match="mode must be one of weights, hardware, not 'fast'"):
        QuantGRU(3, 4, mode="fast")
    with pytest.raises(ValueError, match="cell must be one of rnn, gru, lstm, not 'tcn'"):
        Net(cell="tcn", input_size=3, hidden=4)


def test_digits_task_has_the_documented_shape():
    t = data.digits(0)
    assert t.train.x.shape[1:] == t.valid.x.shape[1:] == t.test.x.shape[1:] == (8, 8)
    assert len(t.train) + len(t.valid) + len(t.test) == 1797  # sklearn's 8x8 digits


def _lstm_step_one_op_at_a_time(self, gx, gh, h, c):
    """The LSTM step of numerics.md with each rounding an autograd node of its own."""
    fs, fp, fc, H = (self.formats.state, self.formats.preact, self.formats.cell,
                     self.hidden_size)
    pre = self.preact(gx + gh)
    i, f, o = self.sig(pre[:, :H]), self.sig(pre[:, H:2 * H]), self.sig(pre[:, 3 * H:])
    g = self.tanh(pre[:, 2 * H:3 * H])
    c = saturate_real(round_to(f * c, fc.frac) + round_to(i * g, fc.frac), fc)
    return saturate_real(round_to(o * self.tanh(to_format(c, fp)), fs.frac), fs), c


def test_the_fused_lstm_step_equals_the_step_op_by_op_in_values_and_gradients(monkeypatch):
    torch.manual_seed(5)
    net = Net(cell="lstm", input_size=4, hidden=6, layers=2, outputs=3, quant="exponential",
              mode="hardware")
    x = torch.randint(-128, 128, (9, 12, 4)).double() / 64
    weights = torch.randn(9, 3, dtype=torch.float64)

    def run():
        net.zero_grad()
        out = net(x)
        (out * weights).sum().backward()
        return out.detach(), {n: p.grad.clone() for n, p in net.named_parameters()}

    fused, fused_grads = run()
    monkeypatch.setattr(QuantLSTM, "step", _lstm_step_one_op_at_a_time)
    plain, plain_grads = run()
    assert torch.equal(fused, plain)
    for name, grad in plain_grads.items():
        assert torch.allclose(fused_grads[name], grad, rtol=1e-12, atol=1e-12), name
        assert grad.abs().sum() > 0, name


def test_dampening_pulls_each_shadow_weight_towards_its_own_code():
    """Net.dampening is zero on weights that are their codes' values and its gradient points
    every other shift-scheme weight at its quantized value; float matrices are not counted."""
    torch.manual_seed(0)
    net = Net(cell="gru", input_size=3, hidden=4, outputs=2, quant="ternary", mode="weights")
    rnn = net.rnn
    with torch.no_grad():
        for name in rnn._exp:
            w = getattr(rnn, name)
            codes, scale = rnn.codes(name)
            w.copy_(Q.values(codes, scale, "ternary", w.dtype))
    for name in net.head._exp:
        w = net.head.weight
        with torch.no_grad():
            codes, scale = net.head.codes(name)
            w.copy_(Q.values(codes, scale, "ternary", w.dtype))
    assert float(net.dampening().detach()) == 0.0
    with torch.no_grad():
        rnn.weight_hh_l0.add_(0.3 * 2.0 ** rnn._exp["weight_hh_l0"] * torch.rand_like(
            rnn.weight_hh_l0).sub(0.5))
    d = net.dampening()
    assert float(d.detach()) > 0
    d.backward()
    w = rnn.weight_hh_l0
    codes, scale = rnn.codes("weight_hh_l0")
    q = Q.values(codes, scale, "ternary", w.dtype)
    moved = (w - q).abs() > 0
    assert moved.any() and (torch.sign(w.grad) == torch.sign(w - q).detach())[moved].all()
    assert float(Net(cell="gru", input_size=3, hidden=4, quant="float").dampening()) == 0.0


@pytest.mark.parametrize("mode", ["weights", "hardware"])
@pytest.mark.parametrize("emit", ["last", "every"])
def test_dropout_acts_in_training_only(mode, emit):
    """In evaluation a net with dropout computes exactly what the same weights compute
    without it; in training it drops, with fresh masks per call."""
    torch.manual_seed(0)
    kw = dict(cell="gru", input_size=3, hidden=6, layers=2, outputs=4, emit=emit,
              quant="exponential", mode=mode)
    plain, dropped = Net(**kw), Net(**kw, dropout=0.5)
    dropped.load_state_dict(plain.state_dict())
    x = torch.randint(-64, 64, (5, 7, 3)).double() / 64
    x = x if mode == "hardware" else x.float()
    plain.eval(), dropped.eval()
    with torch.no_grad():
        assert torch.equal(dropped(x), plain(x))
    plain.train(), dropped.train()
    with torch.no_grad():
        a, b, c = dropped(x), dropped(x), plain(x)
    assert not torch.equal(a, c) and not torch.equal(a, b)


def test_dropout_reaches_the_inputs_of_layers_and_head_not_the_recurrence(monkeypatch):
    """Hardware mode, two layers: dropped are the first layer's input, the second layer's input
    and the head's input, each once per forward pass; no per-step state (B, H)."""
    shapes = []
    real = torch.nn.functional.dropout

    def spy(x, p, training=True, inplace=False):
        shapes.append((tuple(x.shape), p))
        return real(x, p, training, inplace)

    monkeypatch.setattr(torch.nn.functional, "dropout", spy)
    net = Net(cell="lstm", input_size=3, hidden=6, layers=2, outputs=4, quant="ternary",
              mode="hardware", dropout=0.25)
    net(torch.zeros(5, 7, 3, dtype=torch.float64), torch.tensor([7, 7, 3, 2, 1]))
    assert shapes == [((5, 7, 3), 0.25), ((5, 7, 6), 0.25), ((5, 6), 0.25)]
    shapes.clear()
    Net(cell="lstm", input_size=3, hidden=6, layers=2, outputs=4, quant="ternary",
        mode="hardware")(torch.zeros(5, 7, 3, dtype=torch.float64))
    assert shapes == []  # no dropout: no call, no random numbers drawn


def test_dropout_must_be_a_probability():
    with pytest.raises(ValueError, match="dropout must be a probability from 0 to below 1, not 1"):
        Net(cell="gru", input_size=3, hidden=4, dropout=1)
