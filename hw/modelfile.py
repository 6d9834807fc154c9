"""The model file (`model.json`): the contract between the trainer and the hardware.

`load` validates everything and raises `ModelError` naming the field and the bad value;
`save` writes atomically. The layout is documented in docs/numerics.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from . import schemes
from .errors import UserError
from .fileio import atomic_write_text
from .numerics import ACTIVATION_KINDS, FORMAT_NAMES, Fixed, Formats, min_frac_in, min_frac_out

FORMAT_NAME = "shiftrnn-model"
VERSION = 1
CELLS = ("rnn", "gru", "lstm")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
EMITS_WITH_HEAD = ("last", "every")  # logits at each sequence's last step, or at every step
EMITS = ("hidden",) + EMITS_WITH_HEAD  # what a top streams; `hidden` (top h) without a head
METRICS = ("accuracy", "bpc")  # the task's figure: argmax accuracy, or bits per symbol


class ModelError(UserError, ValueError):
    """A malformed model file; the message names the field and the bad value."""


@dataclass
class Matrix:
    scheme: str
    codes: np.ndarray  # int64 (rows, cols)
    scale: np.ndarray  # int64 (rows,) power-of-two exponents
    levels: int = 1  # exponential only

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    def multipliers(self) -> tuple[np.ndarray, int]:
        return schemes.multipliers(self.codes, self.scale, self.scheme)

    def values(self) -> np.ndarray:
        return schemes.values(self.codes, self.scale, self.scheme)

    @property
    def code_bits(self) -> int:
        return schemes.code_bits(self.scheme, self.levels)

    def as_dict(self) -> dict:
        d = {"scheme": self.scheme, "scale": self.scale.tolist(), "codes": self.codes.tolist()}
        if self.scheme == "exponential":
            d["levels"] = self.levels
        return d


@dataclass
class Layer:
    w_ih: Matrix
    w_hh: Matrix
    b_ih: np.ndarray  # preact-format integers
    b_hh: np.ndarray


@dataclass
class Head:
    weight: Matrix
    bias: np.ndarray  # output-format integers


@dataclass
class Model:
    cell: str
    input_size: int
    hidden_size: int
    activation: str
    formats: Formats  # a dict {name: Fixed} is taken too and made a Formats
    layers: list[Layer]
    head: Head | None = None
    input_offset: np.ndarray | None = None  # x_int = input.quantize((x - offset) * scale)
    input_scale: np.ndarray | None = None
    meta: dict = field(default_factory=dict)  # free-form: task, classes, training config ...
    emit: str | None = None  # a head's stream, `last` or `every`; None: `last` (meta.emit on disk)
    metric: str | None = None  # one of METRICS; None: accuracy (meta.metric on disk)
    # a one-hot input: the vocabulary size (equal to input_size); an input beat is then the
    # token's index, and the input vector is 1.0 (input.one) at that index, 0 elsewhere
    input_onehot: int | None = None

    def __post_init__(self):
        if isinstance(self.formats, dict):
            self.formats = Formats(**self.formats)

    def _typed_not_meta(self) -> None:
        if "emit" in self.meta or "metric" in self.meta:
            raise ValueError("emit and metric are the fields Model.emit and Model.metric, not "
                             "meta keys")

    @property
    def emits(self) -> str:
        """What the hardware streams out (the one rule): `hidden` (top h every step) without a
        head; with one, the head's logits at each sequence's last step (`last`, the default)
        or at every step (`every`, for language models)."""
        self._typed_not_meta()
        if self.head is None:
            return "hidden"
        emit = "last" if self.emit is None else self.emit
        if emit not in EMITS_WITH_HEAD:
            raise ModelError(f"meta.emit is {emit!r}; a model with a head emits "
                             f"{' or '.join(map(repr, EMITS_WITH_HEAD))}")
        return emit

    @property
    def metric_name(self) -> str:
        """The task's metric (accuracy unless the file says otherwise)."""
        self._typed_not_meta()
        metric = "accuracy" if self.metric is None else self.metric
        if metric not in METRICS:
            raise ModelError(f"meta.metric is {metric!r}, not one of {', '.join(METRICS)}")
        return metric

    @property
    def onehot(self) -> bool:
        """The input is one-hot: a beat carries a token index in [0, input_size)."""
        return self.input_onehot is not None

    @property
    def beat_inputs(self) -> int:
        """Elements of one input beat (a step of a test set): the token alone for a one-hot
        input, else the input_size features."""
        return 1 if self.onehot else self.input_size

    @property
    def beat_element(self) -> tuple[int, bool]:
        """(bits, signed) of one input beat element: an input-format integer, or a one-hot
        input's token index (unsigned, the fewest bits that hold input_size - 1)."""
        if self.onehot:
            return max(1, (self.input_size - 1).bit_length()), False
        return self.formats.input.bits, True

    @property
    def input_range(self) -> tuple[int, int]:
        """The smallest and largest legal input element: a token index, or the input format's
        integers."""
        if self.onehot:
            return 0, self.input_size - 1
        return self.formats.input.min, self.formats.input.max

    def input_vectors(self, xs) -> np.ndarray:
        """Input beats (..., beat_inputs) as the input vectors the contract multiplies
        (..., input_size): a one-hot input's tokens become input.one at their index."""
        xs = np.asarray(xs, dtype=np.int64)
        if not self.onehot:
            return xs
        self.check_tokens(xs)
        return (xs[..., :1] == np.arange(self.input_size)) * np.int64(self.formats.input.one)

    def check_tokens(self, xs) -> None:
        """ValueError naming the first token of beats (..., 1) outside the vocabulary."""
        tok = np.asarray(xs)
        bad = (tok < 0) | (tok >= self.input_size)
        if bad.any():
            raise ValueError(f"token {int(tok[bad].flat[0])} is outside the vocabulary "
                             f"0..{self.input_size - 1}")

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def gates(self) -> int:
        return GATES[self.cell]

    def fmt(self, name: str) -> Fixed:
        return self.formats[name]

    def matrices(self):
        """(name, Matrix) for every weight matrix, in file order."""
        for i, layer in enumerate(self.layers):
            yield f"layers[{i}].w_ih", layer.w_ih
            yield f"layers[{i}].w_hh", layer.w_hh
        if self.head is not None:
            yield "head.weight", self.head.weight

    def quantize_input(self, x) -> np.ndarray:
        """Real features (..., input_size) to input-format integers, with the stored scaling."""
        x = np.asarray(x, dtype=np.float64)
        if self.input_offset is not None:
            x = (x - self.input_offset) * self.input_scale
        return self.formats.input.quantize(x)

    def as_dict(self) -> dict:
        d = {
            "format": FORMAT_NAME, "version": VERSION, "cell": self.cell,
            "input_size": self.input_size, "hidden_size": self.hidden_size,
            "num_layers": self.num_layers, "activation": self.activation,
            "formats": self.formats.as_dict(),
            "layers": [
                {"w_ih": ly.w_ih.as_dict(), "w_hh": ly.w_hh.as_dict(),
                 "b_ih": ly.b_ih.tolist(), "b_hh": ly.b_hh.tolist()} for ly in self.layers
            ],
            "head": None if self.head is None else {
                "weight": self.head.weight.as_dict(), "bias": self.head.bias.tolist()},
        }
        if self.input_onehot is not None:
            d["input_onehot"] = self.input_onehot
        if self.input_offset is not None:
            d["input_transform"] = {"offset": self.input_offset.tolist(),
                                    "scale": self.input_scale.tolist()}
        self._typed_not_meta()
        d["meta"] = dict(self.meta)
        for key in ("metric", "emit"):  # stored in meta, as every model file always had them
            if getattr(self, key) is not None:
                d["meta"][key] = getattr(self, key)
        return d


# ---------------------------------------------------------------- validation helpers

def _get(d: dict, key: str, where: str):
    if not isinstance(d, dict):
        raise ModelError(f"{where} must be an object, not {type(d).__name__}")
    if key not in d:
        raise ModelError(f"{where + '.' if where else ''}{key} is missing")
    return d[key]


def _int(value, where: str, lo: int | None = None, hi: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ModelError(f"{where} must be an integer, not {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
        raise ModelError(f"{where} must be {rng}, not {value!r}")
    return value


def _int_array(value, where: str, shape: tuple) -> np.ndarray:
    try:
        arr = np.array(value, dtype=object)
    except ValueError:
        raise ModelError(f"{where} is a ragged array; expected shape {shape}") from None
    if arr.shape != shape:
        raise ModelError(f"{where} has shape {arr.shape}, expected {shape}")
    for v in arr.flat:
        if not isinstance(v, int) or isinstance(v, bool):
            raise ModelError(f"{where} holds {v!r}, not an integer")
        if abs(v) >= 1 << 62:
            raise ModelError(f"{where} holds {v!r}, far out of any format")
    return arr.astype(np.int64)


def _fixed(d, where: str) -> Fixed:
    bits = _int(_get(d, "bits", where), f"{where}.bits", 2, 32)
    frac = _int(_get(d, "frac", where), f"{where}.frac", 0, 47)
    return Fixed(bits, frac)


def _matrix(d, where: str, rows: int, cols: int) -> Matrix:
    scheme = _get(d, "scheme", where)
    if not isinstance(scheme, str) or not schemes.is_known(scheme):
        raise ModelError(f"{where}.scheme is {scheme!r}; known schemes are "
                         f"{', '.join(schemes.SCHEMES)} (and intN for N from 2 to 16)")
    levels = 1
    if scheme == "exponential":
        levels = _int(_get(d, "levels", where), f"{where}.levels", 1, schemes.MAX_LEVELS)
    codes = _int_array(_get(d, "codes", where), f"{where}.codes", (rows, cols))
    scale = _int_array(_get(d, "scale", where), f"{where}.scale", (rows,))
    bad = ~schemes.legal_codes(codes, scheme, levels)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        lo, hi = schemes.code_range(scheme, levels)
        raise ModelError(f"{where}.codes[{r}][{c}] is {int(codes[r, c])}, out of range for "
                         f"{scheme} ({lo}..{hi}{', not 0' if scheme == 'binary' else ''})")
    if (np.abs(scale) > 40).any():
        r = int(np.argmax(np.abs(scale) > 40))
        raise ModelError(f"{where}.scale[{r}] is {int(scale[r])}; exponents must lie in -40..40")
    if scheme in schemes.PER_MATRIX_SCALE and rows and (scale != scale[0]).any():
        r = int(np.argmax(scale != scale[0]))
        raise ModelError(f"{where}.scale[{r}] is {int(scale[r])} but {scheme} has one scale "
                         f"per matrix ({int(scale[0])}); use pow2-ternary for per-row scales")
    return Matrix(scheme, codes, scale, levels)


def _bias(value, where: str, n: int, fmt: Fixed) -> np.ndarray:
    b = _int_array(value, where, (n,))
    bad = (b < fmt.min) | (b > fmt.max)
    if bad.any():
        i = int(np.argmax(bad))
        raise ModelError(f"{where}[{i}] is {int(b[i])}, outside its {fmt.bits}-bit format")
    return b


def from_dict(d) -> Model:
    if not isinstance(d, dict):
        raise ModelError(f"the model file must hold a JSON object, not {type(d).__name__}")
    if d.get("format") != FORMAT_NAME:
        raise ModelError(f"format is {d.get('format')!r}, expected {FORMAT_NAME!r}")
    version = _get(d, "version", "")
    if version != VERSION:
        raise ModelError(f"version is {version!r}; this shiftrnn reads version {VERSION}")
    cell = _get(d, "cell", "")
    if cell not in CELLS:
        raise ModelError(f"cell is {cell!r}; cells are {', '.join(CELLS)}")
    n_in = _int(_get(d, "input_size", ""), "input_size", 1, 4096)
    hidden = _int(_get(d, "hidden_size", ""), "hidden_size", 1, 4096)
    n_layers = _int(_get(d, "num_layers", ""), "num_layers", 1, 16)
    act = _get(d, "activation", "")
    if act not in ACTIVATION_KINDS:
        raise ModelError(f"activation is {act!r}; kinds are {', '.join(ACTIVATION_KINDS)}")
    fdict = _get(d, "formats", "")
    formats = Formats(**{k: _fixed(_get(fdict, k, "formats"), f"formats.{k}")
                         for k in FORMAT_NAMES})
    _check_formats(formats, act)

    gates = GATES[cell]
    raw_layers = _get(d, "layers", "")
    if not isinstance(raw_layers, list) or len(raw_layers) != n_layers:
        got = len(raw_layers) if isinstance(raw_layers, list) else type(raw_layers).__name__
        raise ModelError(f"layers has {got} entries, expected num_layers = {n_layers}")
    layers = []
    pre = formats.preact
    for i, ly in enumerate(raw_layers):
        w = f"layers[{i}]"
        cols = n_in if i == 0 else hidden
        layers.append(Layer(
            _matrix(_get(ly, "w_ih", w), f"{w}.w_ih", gates * hidden, cols),
            _matrix(_get(ly, "w_hh", w), f"{w}.w_hh", gates * hidden, hidden),
            _bias(_get(ly, "b_ih", w), f"{w}.b_ih", gates * hidden, pre),
            _bias(_get(ly, "b_hh", w), f"{w}.b_hh", gates * hidden, pre),
        ))
    head = None
    raw_head = d.get("head")
    if raw_head is not None:
        wd = _get(raw_head, "weight", "head")
        codes = _get(wd, "codes", "head.weight")
        n_out = len(codes) if isinstance(codes, list) else 0
        if n_out < 1:
            raise ModelError(f"head.weight.codes must be a non-empty list of rows, "
                             f"not {codes!r:.40}")
        head = Head(_matrix(wd, "head.weight", n_out, hidden),
                    _bias(_get(raw_head, "bias", "head"), "head.bias", n_out, formats.output))
    offset = scale = None
    if d.get("input_transform") is not None:
        t = d["input_transform"]
        offset = _float_vec(_get(t, "offset", "input_transform"), "input_transform.offset", n_in)
        scale = _float_vec(_get(t, "scale", "input_transform"), "input_transform.scale", n_in)
    onehot = d.get("input_onehot")
    if onehot is not None:
        onehot = _int(onehot, "input_onehot", 2, 4096)
        if onehot != n_in:
            raise ModelError(f"input_onehot is {onehot} but input_size is {n_in}: a one-hot "
                             f"input has one input column per symbol of its vocabulary")
        if offset is not None:
            raise ModelError("input_onehot with an input_transform: a one-hot input is a token "
                             "index, not features to scale")
        fin = formats.input
        if fin.frac > fin.bits - 2:
            raise ModelError(f"formats.input.frac is {fin.frac}; a one-hot input needs 1.0 "
                             f"representable (frac at most bits - 2 = {fin.bits - 2})")
    meta = d.get("meta", {})
    if not isinstance(meta, dict):
        raise ModelError(f"meta must be an object, not {type(meta).__name__}")
    meta = dict(meta)
    model = Model(cell, n_in, hidden, act, formats, layers, head, offset, scale, meta,
                  emit=meta.pop("emit", None), metric=meta.pop("metric", None),
                  input_onehot=onehot)
    _ = model.emits, model.metric_name  # both checked now, not when first used
    return model


def _float_vec(value, where: str, n: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) != n:
        raise ModelError(f"{where} must be a list of {n} numbers")
    for v in value:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise ModelError(f"{where} holds {v!r}, not a finite number")
    return np.array(value, dtype=np.float64)


def _check_formats(f: dict[str, Fixed], act: str) -> None:
    state, pre = f.state, f.preact
    if state.frac > state.bits - 2:
        raise ModelError(f"formats.state.frac is {state.frac}; it must be at most bits - 2 = "
                         f"{state.bits - 2} so that 1.0 and -1.0 are representable")
    if state.frac < min_frac_out(act):
        raise ModelError(f"formats.state.frac is {state.frac}; activation {act!r} needs at "
                         f"least {min_frac_out(act)} fraction bits")
    if pre.frac < min_frac_in(act):
        raise ModelError(f"formats.preact.frac is {pre.frac}; activation {act!r} needs at "
                         f"least {min_frac_in(act)} fraction bits")
    if pre.bits > 24:
        raise ModelError(f"formats.preact.bits is {pre.bits}; at most 24 (activation tables)")
    if f.cell.frac > f.cell.bits - 2:
        raise ModelError(f"formats.cell.frac is {f['cell'].frac}; it must be at most bits - 2")


def load(path) -> Model:
    """Read and validate a model file. Raises ModelError (also for unreadable or bad JSON)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ModelError(f"{path} is not a model file: byte {e.start} is not UTF-8 text "
                         f"(a binary file?)") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelError(f"{path} is not valid JSON: {e.msg} at line {e.lineno} "
                         f"column {e.colno}") from None
    return from_dict(d)


def save(model: Model, path) -> None:
    from_dict(json.loads(json.dumps(model.as_dict())))  # never write a file we would reject
    atomic_write_text(path, json.dumps(model.as_dict(), separators=(",", ":")) + "\n")
