"""Quantized RNN, GRU and LSTM layers with torch.nn's parameter names, shapes and gate order.

`QuantRNN`, `QuantGRU` and `QuantLSTM` hold full-precision shadow weights `weight_ih_l0`,
`weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, ... (a torch.nn.RNN/GRU/LSTM state_dict loads as is)
and run in one of two modes:

- `weights`: the forward pass uses the quantized weights (straight-through gradients) in torch's
  fused RNN kernels, with the standard sigmoid and tanh. Fast; for reproducing the paper.
- `hardware`: every number follows docs/numerics.md: inputs, states, pre-activations, gate
  products and the integer activations, in float64 where each value is exact. In evaluation
  this is bit for bit what `hw.reference` computes from the exported model.

`Net` puts a layer stack and an optional dense head together.
"""

from __future__ import annotations

import math

import torch
from torch import _VF, nn

from hw.modelfile import GATES
from hw.numerics import Fixed, Formats

from . import quantizers as Q
from .ste import Activation, round_to, saturate_real, straight, to_format

MODES = ("weights", "hardware")
LR_SCALES = ("none", "level")  # Net.param_groups
LEVEL_LR_SCHEMES = ("binary", "ternary", "pow2-ternary")
SHIFT_SCHEMES = ("binary", "ternary", "pow2-ternary", "exponential")  # shadow init in +-level
ROW_GAINS = ("none", "learned")
# schemes a learned power-of-two gain per row applies to; ternary codes with per-row exponents
# are stored as pow2-ternary (binary has one scale per matrix and no per-row twin)
GAIN_SCHEMES = {"ternary": "pow2-ternary", "pow2-ternary": "pow2-ternary",
                "exponential": "exponential"}
F64 = torch.float64


def _check_dropout(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(f"dropout must be a probability from 0 to below 1, not {p!r}")
    return float(p)


def _dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout in training only; p = 0 returns x itself and draws no random numbers, so runs
    without dropout keep their stochastic quantizers' draws (and their figures)."""
    return nn.functional.dropout(x, p, training=True) if p and training else x


class QuantMixin:
    """Quantized weights of a module whose weight parameters have a level exponent in _exp.
    `quant` is the module's quantizer; `_matrix_quant` may give one matrix another."""

    quant: str
    mode: str
    levels: int
    level_rule: str = "glorot"  # binary/ternary level: the Glorot one in _exp, or "fit"
    shadow_clip: int = 1  # pow2-ternary/exponential shadow weights clip at 2**this x Glorot
    _exp: dict[str, int]
    _matrix_quant: dict[str, str] = {}  # weight name -> its own quantizer (instances replace)

    def quant_of(self, name: str) -> str:
        """The quantizer of weight `name`."""
        return self._matrix_quant.get(name, self.quant)

    def _setup(self, quant: str, mode: str, levels: int, formats: Formats | dict | None) -> None:
        Q.check_quant(quant)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.quant, self.mode, self.levels = quant, mode, levels
        self.formats = Formats.from_pairs(formats)

    def _add_gains(self, row_gain: str) -> None:
        """`learned`: a log2 gain per row of every weight matrix (parameter NAME_gain, from 0),
        rounded to an integer in the forward pass (gradient straight through) and added to the
        row's exponent: a per-row power-of-two scale that the model file stores as is."""
        if row_gain not in ROW_GAINS:
            raise ValueError(f"row gain must be one of {', '.join(ROW_GAINS)}, not {row_gain!r}")
        self.row_gain = row_gain
        if row_gain == "learned":
            for name in self._exp:
                rows = getattr(self, name).shape[0]
                self.register_parameter(f"{name}_gain", nn.Parameter(torch.zeros(rows)))

    def _gains_apply(self, name: str) -> bool:
        """Learned row gains are on and the matrix's quantizer takes them (not float, intN,
        binary)."""
        return getattr(self, "row_gain", "none") == "learned" and \
            Q.scheme_of(self.quant_of(name)) in GAIN_SCHEMES

    def gain_exponents(self, name: str) -> torch.Tensor | None:
        """The rounded per-row gains (a float tensor with a straight-through gradient), or None
        where they do not apply."""
        if not self._gains_apply(name):
            return None
        g = getattr(self, f"{name}_gain")
        return straight(g, torch.round(g))

    def scheme(self, name: str) -> str:
        """The model file scheme of weight `name`."""
        scheme = Q.scheme_of(self.quant_of(name))
        return GAIN_SCHEMES[scheme] if self._gains_apply(name) else scheme

    def base_codes(self, name: str, training: bool = False):
        """(codes, per-row exponents) of weight `name` from its shadow weights alone (no row
        gains); deterministic unless training."""
        return Q.quantize(getattr(self, name), self.quant_of(name), exp=self._exp[name],
                          levels=self.levels, stochastic=training, rule=self.level_rule)

    def codes(self, name: str, training: bool = False):
        """(codes, per-row exponents) of weight `name`, learned row gains included (what the
        model file stores); deterministic unless training."""
        codes, scale = self.base_codes(name, training)
        g = self.gain_exponents(name)
        if g is not None:
            scale = scale + g.detach().to(scale.dtype)
        return codes, scale

    def qweight(self, name: str, dtype=None) -> torch.Tensor:
        """The weight the forward pass uses (gradient straight through to the shadow weight;
        to a row gain through its power of two)."""
        w = getattr(self, name)
        dtype = dtype or w.dtype
        quant = self.quant_of(name)
        if quant == "float" and self.mode == "weights":
            return w.to(dtype)
        codes, scale = self.base_codes(name, self.training)
        v = straight(w, Q.values(codes, scale, Q.scheme_of(quant), dtype)).to(dtype)
        g = self.gain_exponents(name)
        if g is None:
            return v
        return v * torch.pow(2.0, g.to(dtype))[:, None]

    def init_shadow_(self) -> None:
        """Shift schemes start uniform in +-level (the Glorot bound as a power of two), as in
        BinaryConnect; torch's default init would leave most ternary codes at zero."""
        with torch.no_grad():
            for name, e in self._exp.items():
                if Q.scheme_of(self.quant_of(name)) in SHIFT_SCHEMES:
                    getattr(self, name).uniform_(-(2.0**e), 2.0**e)

    @torch.no_grad()
    def clip_shadow_(self) -> None:
        for name, e in self._exp.items():
            bound = Q.clip_bound(self.quant_of(name), e, self.level_rule, self.shadow_clip)
            if bound is not None:
                getattr(self, name).clamp_(-bound, bound)


class QuantRecurrent(QuantMixin, nn.Module):
    """A stack of `num_layers` recurrent layers of `cell`, batch first: (B, T, I) -> (B, T, H)."""

    cell = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 quant: str = "float", mode: str = "weights", activation: str = "pwl",
                 levels: int = 7, formats: Formats | dict | None = None, level_shift: int = 0,
                 level_rule: str = "glorot", row_gain: str = "none",
                 input_quant: str | None = None, shadow_clip: int = 1, dropout: float = 0.0):
        """`input_quant`: the first layer's input matrix's own quantizer (default `quant`).
        `shadow_clip`: pow2-ternary and exponential shadow weights are clipped at 2**shadow_clip
        times their Glorot level. `dropout`: in training, on each layer's output that feeds the
        next layer (not on the recurrent connections; `Net` drops the first input and the last
        output)."""
        super().__init__()
        for what, v in (("input size", input_size), ("hidden size", hidden_size),
                        ("number of layers", num_layers)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{what} must be a positive integer, not {v!r}")
        self._setup(quant, mode, levels, formats)
        self.set_input_quant(input_quant)
        self.level_rule = Q.check_rule(level_rule)
        self.shadow_clip = shadow_clip
        self.dropout = _check_dropout(dropout)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.activation = activation
        G, H = GATES[self.cell], hidden_size
        self._exp = {}
        for k in range(num_layers):
            cols = input_size if k == 0 else H
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(G * H, cols)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(G * H, H)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(G * H)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(G * H)))
            self._exp[f"weight_ih_l{k}"] = Q.glorot_exponent(cols, H) + level_shift
            self._exp[f"weight_hh_l{k}"] = Q.glorot_exponent(H, H) + level_shift
        f = self.formats
        self.sig = Activation("sigmoid", activation, f.preact, f.state)
        self.tanh = Activation("tanh", activation, f.preact, f.state)
        self.reset_parameters()
        self._add_gains(row_gain)

    def set_input_quant(self, input_quant: str | None) -> None:
        """Give the first layer's input matrix its own quantizer (None: the module's)."""
        self._matrix_quant = {} if input_quant is None else \
            {"weight_ih_l0": Q.check_quant(input_quant)}

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)  # torch.nn.RNNBase's init
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)
        self.init_shadow_()
        for name in self._exp:
            if hasattr(self, f"{name}_gain"):
                nn.init.zeros_(getattr(self, f"{name}_gain"))

    def layer_params(self, k: int, dtype=None):
        return (self.qweight(f"weight_ih_l{k}", dtype), self.qweight(f"weight_hh_l{k}", dtype),
                getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "hardware":
            return self._hardware(x)
        flat = [t for k in range(self.num_layers) for t in self.layer_params(k, x.dtype)]
        B = x.shape[0]
        h0 = x.new_zeros(self.num_layers, B, self.hidden_size)
        args = (flat, True, self.num_layers, self.dropout, self.training, False, True)
        if self.cell == "lstm":
            return _VF.lstm(x, (h0, h0), *args)[0]
        if self.cell == "gru":
            return _VF.gru(x, h0, *args)[0]
        return _VF.rnn_tanh(x, h0, *args)[0]

    # ---------------------------------------------------------------- hardware mode
    def _hardware(self, x: torch.Tensor) -> torch.Tensor:
        f = self.formats
        v = to_format(x.to(F64), f.input)
        for k in range(self.num_layers):
            if k:  # as torch's fused kernels: between layers, in training only
                v = _dropout(v, self.dropout, self.training)
            w_ih, w_hh, b_ih, b_hh = self.layer_params(k, F64)
            b_ih, b_hh = to_format(b_ih.to(F64), f.preact), to_format(b_hh.to(F64), f.preact)
            bx, bh = self.biases(b_ih, b_hh)
            # every step at once (layer k only needs layer k-1's outputs)
            gx = torch.addmm(bx, v.flatten(0, 1), w_ih.T).unflatten(0, v.shape[:2])
            v = self.sequence(gx, w_hh, bh)
        return v

    def sequence(self, gx: torch.Tensor, w_hh, bh) -> torch.Tensor:
        """One layer over all steps from its input products gx (B, T, G*H): h (B, T, H)."""
        # unbind, not gx[:, t], whose backward would add a zero-filled full-size gradient per step
        h = gx.new_zeros(gx.shape[0], self.hidden_size)
        c = h
        out = []
        for gx_t in gx.unbind(1):
            h, c = self.step(gx_t, torch.addmm(bh, h, w_hh.T), h, c)
            out.append(h)
        return torch.stack(out, dim=1)

    def preact(self, total: torch.Tensor) -> torch.Tensor:
        """docs/numerics.md `preact`: the exact sum rounded half up to preact.frac, saturated."""
        return to_format(total, self.formats.preact)

    def biases(self, b_ih, b_hh):
        """The biases (preact reals) added to the input and the hidden products. All sums are
        exact, so where a bias is added does not change a bit; the GRU keeps b_hn with W_hn h."""
        return b_ih + b_hh, torch.zeros_like(b_hh)

    def step(self, gx, gh, h, c):
        """One step of one layer on exact reals, given the input and hidden products with their
        biases; the integer version is hw.reference's layer_step."""
        return self.tanh(self.preact(gx + gh)), c


class QuantRNN(QuantRecurrent):
    cell = "rnn"


class QuantGRU(QuantRecurrent):
    cell = "gru"

    def biases(self, b_ih, b_hh):
        H = self.hidden_size
        bx = torch.cat([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:]])
        return bx, torch.cat([torch.zeros_like(b_hh[:2 * H]), b_hh[2 * H:]])

    def step(self, gx, gh, h, c):
        fs, fp, H = self.formats.state, self.formats.preact, self.hidden_size
        # r and z: the same formula on adjacent rows, so one preact and one lookup for both
        rz = self.sig(self.preact(gx[:, :2 * H] + gh[:, :2 * H]))
        r, z = rz[:, :H], rz[:, H:]
        a_in = self.preact(gx[:, 2 * H:])  # W_in x + b_in
        a_hn = self.preact(gh[:, 2 * H:])  # W_hn h + b_hn: torch applies r to it
        n = self.tanh(saturate_real(a_in + round_to(r * a_hn, fp.frac), fp))
        return saturate_real(n + round_to(z * (h - n), fs.frac), fs), c


def _fixed(x: torch.Tensor, fmt: Fixed) -> torch.Tensor:
    """Round half up to fmt and saturate, without autograd (inside _LSTMTail)."""
    return torch.floor(x * float(fmt.one) + 0.5).clamp_(fmt.min, fmt.max).mul_(1.0 / fmt.one)


def _lookup(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """table[idx] (index_select on the flat indices: faster than take on CPU)."""
    return table.index_select(0, idx.reshape(-1)).view(idx.shape)


def _lstm_forward(gx, gh, c, sig, tanh, formats, H):
    """The LSTM step from the input and hidden products on, without autograd; (h', c', saved).

    With pre = preact(gx + gh), i, f, o = sig(pre), g = tanh(pre) for their rows (numerics.md):
        c' = saturate(mul_round(f, c) + mul_round(i, g));  h' = saturate(mul_round(o, tanh(c_in)))
        with c_in = c' in the preact format (rounded, saturated)."""
    fs, fp, fc = formats.state, formats.preact, formats.cell
    (sig_t, sig_d), (tanh_t, tanh_d) = sig.tables(gx.dtype), tanh.tables(gx.dtype)
    # the table index, preact integer - fp.min: floor(x one + 0.5 - min), clamped (min integer)
    lo, span = fp.min, fp.max - fp.min
    idx = (gx + gh).mul_(float(fp.one)).add_(0.5 - lo).floor_().clamp_(0, span).long()
    ifo = torch.cat([idx[:, :2 * H], idx[:, 3 * H:]], dim=1)
    s = _lookup(sig_t, ifo)
    i, f, o = s[:, :H], s[:, H:2 * H], s[:, 2 * H:]
    g_idx = idx[:, 2 * H:3 * H]
    g = _lookup(tanh_t, g_idx)
    # c' in cell integers, then as a real; tanh reads it rounded to the preact format
    cq = torch.mul(f, c).mul_(fc.one).add_(0.5).floor_()
    cq = cq.add_(torch.mul(i, g).mul_(fc.one).add_(0.5).floor_()).clamp_(fc.min, fc.max)
    c_new = cq * 2.0**-fc.frac
    c_idx = cq.mul_(2.0**(fp.frac - fc.frac)).add_(0.5 - lo).floor_().clamp_(0, span).long()
    t = _lookup(tanh_t, c_idx)
    saved = (_lookup(sig_d, ifo), _lookup(tanh_d, g_idx), _lookup(tanh_d, c_idx), c, i, f, g, o, t)
    return _fixed(o * t, fs), c_new, saved


def _lstm_backward(saved, grad_h, grad_c, H):
    """(d pre, d c) of one step from the gradients of h' and c' (grad_c may be None).
    Rounding and saturation pass gradients straight through; each activation's derivative is
    its surrogate slope."""
    sig_d, g_d, t_d, c, i, f, g, o, t = saved
    gc = grad_h * o * t_d  # through h' = o tanh(c') to c'
    if grad_c is not None:
        gc = gc + grad_c
    d_pre = torch.cat([gc * g * sig_d[:, :H], gc * c * sig_d[:, H:2 * H], gc * i * g_d,
                       grad_h * t * sig_d[:, 2 * H:]], dim=1)
    return d_pre, gc * f


class _LSTMTail(torch.autograd.Function):
    """One LSTM step from the input and hidden products on as one autograd node (faster than
    the same ops one by one; tests/test_cells.py checks values and gradients against that
    composition)."""

    @staticmethod
    def forward(ctx, gx, gh, c, sig, tanh, formats, H):
        h_new, c_new, saved = _lstm_forward(gx, gh, c, sig, tanh, formats, H)
        ctx.save_for_backward(*saved)
        ctx.H = H
        return h_new, c_new

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        d_pre, d_c = _lstm_backward(ctx.saved_tensors, grad_h, grad_c, ctx.H)
        return d_pre, d_pre, d_c, None, None, None, None


class _LSTMSequence(torch.autograd.Function):
    """A whole LSTM layer from its input products gx (B, T, 4H) as one autograd node: the same
    steps as _LSTMTail, with the hidden products inside, and in the backward pass one product
    for the recurrent weight's gradient over all steps instead of one per step."""

    @staticmethod
    def forward(ctx, gx, w_hh, bh, sig, tanh, formats, H):
        B, T = gx.shape[:2]
        h = c = gx.new_zeros(B, H)
        hs = gx.new_empty(B, T + 1, H)  # hs[:, 0] = h0 = 0, hs[:, t + 1] = h after step t
        hs[:, 0] = 0
        w_t = w_hh.T
        steps = []
        for t in range(T):
            h, c, saved = _lstm_forward(gx[:, t], torch.addmm(bh, h, w_t), c, sig, tanh, formats,
                                        H)
            hs[:, t + 1] = h
            steps.append(saved)
        ctx.steps, ctx.H = steps, H
        ctx.save_for_backward(w_hh, hs)
        return hs[:, 1:].clone()  # not a view of the saved states

    @staticmethod
    def backward(ctx, grad_out):
        w_hh, hs = ctx.saved_tensors
        steps, H = ctx.steps, ctx.H
        B, T = hs.shape[0], hs.shape[1] - 1
        d_gx = grad_out.new_empty(B, T, 4 * H)
        d_h = grad_out.new_zeros(B, H)
        d_c = None
        for t in range(T - 1, -1, -1):
            d_pre, d_c = _lstm_backward(steps[t], grad_out[:, t] + d_h, d_c, H)
            d_gx[:, t] = d_pre
            d_h = d_pre @ w_hh
        ctx.steps = None
        flat = d_gx.flatten(0, 1)
        d_w = flat.T @ hs[:, :-1].flatten(0, 1) if ctx.needs_input_grad[1] else None
        d_b = flat.sum(0) if ctx.needs_input_grad[2] else None
        return d_gx, d_w, d_b, None, None, None, None


class QuantLSTM(QuantRecurrent):
    cell = "lstm"

    def step(self, gx, gh, h, c):
        return _LSTMTail.apply(gx, gh, c, self.sig, self.tanh, self.formats, self.hidden_size)

    def sequence(self, gx, w_hh, bh):
        # evaluation (nothing to save) or a replaced step (tests): step by step
        if not torch.is_grad_enabled() or type(self).step is not _LSTM_STEP:
            return super().sequence(gx, w_hh, bh)
        return _LSTMSequence.apply(gx, w_hh, bh, self.sig, self.tanh, self.formats,
                                   self.hidden_size)


_LSTM_STEP = QuantLSTM.step
CELLS = {"rnn": QuantRNN, "gru": QuantGRU, "lstm": QuantLSTM}


class QuantLinear(QuantMixin, nn.Module):
    """The dense head: logits = W h + b; in hardware mode `preact` in the output format."""

    def __init__(self, in_features: int, out_features: int, *, quant: str = "float",
                 mode: str = "weights", levels: int = 7, formats: Formats | dict | None = None,
                 level_shift: int = 0, level_rule: str = "glorot", row_gain: str = "none",
                 shadow_clip: int = 1):
        super().__init__()
        self._setup(quant, mode, levels, formats)
        self.level_rule = Q.check_rule(level_rule)
        self.shadow_clip = shadow_clip
        lin = nn.Linear(in_features, out_features)  # torch's init
        self.weight, self.bias = lin.weight, lin.bias
        self._exp = {"weight": Q.glorot_exponent(in_features, out_features) + level_shift}
        self.init_shadow_()
        self._add_gains(row_gain)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.mode == "weights":
            return torch.nn.functional.linear(h, self.qweight("weight", h.dtype), self.bias)
        fo = self.formats.output
        total = h.to(F64) @ self.qweight("weight", F64).T + to_format(self.bias.to(F64), fo)
        return saturate_real(round_to(total, fo.frac), fo)


class Net(nn.Module):
    """Recurrent stack plus an optional head. emit `last`: logits at each sequence's last valid
    step (B, classes); `every`: logits at every step (B, T, classes); `hidden`: top h (B, T, H)."""

    def __init__(self, *, cell: str, input_size: int, hidden: int, layers: int = 1,
                 outputs: int | None = None, emit: str = "last", quant: str = "float",
                 mode: str = "weights", activation: str = "pwl", levels: int = 7,
                 formats: Formats | dict | None = None, level_shift: int = 0,
                 level_rule: str = "glorot", row_gain: str = "none",
                 input_quant: str | None = None, head_quant: str | None = None,
                 shadow_clip: int = 1, dropout: float = 0.0):
        """`input_quant` and `head_quant`: the first layer's input matrix's and the head's own
        quantizers (default `quant`). `dropout`: the probability of dropping each input of every
        layer and each input of the head in training, never a recurrent connection (Zaremba et
        al., "Recurrent Neural Network Regularization", 2014); evaluation, hardware-mode
        evaluation and the export do not see it."""
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, not {cell!r}")
        kw = dict(quant=quant, mode=mode, levels=levels, formats=formats, level_shift=level_shift,
                  level_rule=level_rule, row_gain=row_gain, shadow_clip=shadow_clip)
        self.rnn = CELLS[cell](input_size, hidden, layers, activation=activation,
                               input_quant=input_quant, dropout=dropout, **kw)
        self.dropout = self.rnn.dropout
        kw["quant"] = head_quant or quant
        self.head = QuantLinear(hidden, outputs, **kw) if outputs else None
        self.emit = emit if outputs else "hidden"

    def set_mode(self, mode: str) -> None:
        for m in self.quant_modules():
            m._setup(m.quant, mode, m.levels, m.formats)

    def set_quant(self, quant: str, input_quant: str | None = None,
                  head_quant: str | None = None) -> None:
        """Every matrix to `quant`, but the first layer's input matrix to `input_quant` and
        the head to `head_quant` where given."""
        self.rnn.quant = Q.check_quant(quant)
        self.rnn.set_input_quant(input_quant)
        if self.head is not None:
            self.head.quant = Q.check_quant(head_quant or quant)

    def quant_modules(self):
        return [m for m in (self.rnn, self.head) if m is not None]

    def clip_shadow_(self) -> None:
        for m in self.quant_modules():
            m.clip_shadow_()

    def dampening(self) -> torch.Tensor:
        """Oscillation dampening (Nagel et al. 2022, "Overcoming Oscillations in
        Quantization-Aware Training"): the mean squared distance of each shift-scheme shadow
        weight from its own quantized value (deterministic codes, row gains left out), in
        units of the matrix's Glorot level, summed over matrices. As a loss term it pulls
        weights near a code boundary towards a code, so that they stop flipping across it."""
        total = torch.zeros(())
        for m in self.quant_modules():
            for name, e in m._exp.items():
                scheme = Q.scheme_of(m.quant_of(name))
                if scheme not in SHIFT_SCHEMES:
                    continue
                w = getattr(m, name)
                codes, scale = m.base_codes(name)
                q = Q.values(codes, scale, scheme, w.dtype).detach()
                total = total + ((w - q) * 2.0 ** -e).pow(2).mean()
        return total

    def param_groups(self, lr_scale: str = "none") -> list[dict]:
        """Optimizer parameter groups. `level`: the learning rate of each binary, ternary or
        pow2-ternary shadow weight matrix is divided by its Glorot level (BinaryConnect's
        W_LR_scale = 1/H, which the paper's code inherits), so a step moves it by the same
        fraction of its threshold whatever the matrix's size. Exponential weights keep the
        base rate: their code boundaries are log-spaced, proportional to each weight (and on
        PTB the scaled rate cost 0.23 BPC). `lr_scale` in each group is the factor."""
        if lr_scale not in LR_SCALES:
            raise ValueError(f"lr scale must be one of {', '.join(LR_SCALES)}, not {lr_scale!r}")
        scaled, ids = [], set()
        for m in self.quant_modules():
            for name, e in m._exp.items():
                if lr_scale == "level" and Q.scheme_of(m.quant_of(name)) in LEVEL_LR_SCHEMES:
                    p = getattr(m, name)
                    scaled.append({"params": [p], "lr_scale": 2.0 ** -e})
                    ids.add(id(p))
        rest = [p for p in self.parameters() if id(p) not in ids]
        return [{"params": rest, "lr_scale": 1.0}, *scaled]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = self.rnn(_dropout(x, self.dropout, self.training))
        if self.head is None:
            return h
        if self.emit != "every":  # the head reads one step per sequence: drop only that one
            h = h[:, -1] if lengths is None else \
                h[torch.arange(h.shape[0]), lengths.to(torch.long) - 1]
        return self.head(_dropout(h, self.dropout, self.training))
