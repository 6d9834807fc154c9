"""Export a trained `Net` to the model file, the test set to integers, and run the reference.

The codes come from the same deterministic quantizer call the forward pass makes in evaluation,
and biases from the same rounding, so hardware mode and `hw.reference` see identical integers.
"""

from __future__ import annotations

import numpy as np
import torch

from hw import metrics
from hw.beats import reference_outputs as reference_outputs_of
from hw.errors import UserError
from hw.modelfile import Head, Layer, Matrix, Model
from hw.numerics import Fixed
from hw.reference import Reference, accumulator_widths, default_emit

from .cells import Net
from .data import Split, Task
from .ste import integers, to_format

MAX_ACC_BITS = 52  # every accumulator exact in float64 (hardware mode) and int64 (reference)


def _matrix(mod, name: str) -> Matrix:
    with torch.no_grad():
        codes, scale = mod.codes(name)
    scheme = mod.scheme(name)
    return Matrix(scheme, codes.cpu().numpy().astype(np.int64),
                  scale.cpu().numpy().astype(np.int64),
                  mod.levels if scheme == "exponential" else 1)


def _bias(b: torch.Tensor, fmt: Fixed) -> np.ndarray:
    with torch.no_grad():
        return integers(to_format(b.to(torch.float64), fmt), fmt).cpu().numpy()


def shell(net: Net, task: Task) -> Model:
    """A model with the formats and the input transform but no layers (for quantize_input)."""
    rnn = net.rnn
    return Model(rnn.cell, rnn.input_size, rnn.hidden_size, rnn.activation, rnn.formats,
                 [], None, task.offset, task.scale,
                 input_onehot=rnn.input_size if task.onehot else None)


def to_model(net: Net, task: Task, meta: dict | None = None) -> Model:
    rnn, f = net.rnn, net.rnn.formats
    layers = [Layer(_matrix(rnn, f"weight_ih_l{k}"), _matrix(rnn, f"weight_hh_l{k}"),
                    _bias(getattr(rnn, f"bias_ih_l{k}"), f.preact),
                    _bias(getattr(rnn, f"bias_hh_l{k}"), f.preact))
              for k in range(rnn.num_layers)]
    head = None
    if net.head is not None:
        head = Head(_matrix(net.head, "weight"), _bias(net.head.bias, f.output))
    model = shell(net, task)
    model.layers, model.head = layers, head
    model.meta = dict(meta or {})
    if net.head is not None:
        model.emit = net.emit
    widest = max(max(w.ih, w.hh, w.sum) for w in accumulator_widths(model))
    if widest > MAX_ACC_BITS:
        raise UserError(f"an accumulator of the exported model needs {widest} bits (more than "
                        f"{MAX_ACC_BITS}); the weights' exponents spread too far")
    return model


def testset(model: Model, task: Task, split: Split) -> metrics.TestSet:
    """The split as input beats: input-format integers through the model file's own input
    conversion, or a one-hot input's token indices (N, T, 1)."""
    if model.onehot:
        x = np.asarray(split.x, dtype=np.int64)[..., None]
    else:
        x = model.quantize_input(task.features(split, slice(None)))
    mask = np.arange(x.shape[1])[None, :] < split.lengths[:, None]
    x = np.where(mask[..., None], x, 0)  # padded steps carry zeros
    return metrics.TestSet(x.astype(np.int64), split.lengths.copy(), split.y.copy())


def reference_outputs(model: Model, ts: metrics.TestSet, chunk: int = 256):
    """Integer logits from hw.reference (hw.beats.reference_outputs): (N, classes) at each
    sequence's last step, or (N, T, classes) at every step for emit `every` (int32: a language
    model's test set is large)."""
    emit = default_emit(model)
    return reference_outputs_of(Reference(model), ts.x, ts.lengths, emit, chunk=chunk,
                                dtype=np.int32 if emit == "every" else np.int64)


def integer_metric(model: Model, task: Task, ts: metrics.TestSet) -> tuple[float, np.ndarray]:
    logits = reference_outputs(model, ts)
    return metrics.task_metric(task.metric, logits, ts.y, model.formats.output,
                               lengths=ts.lengths), logits
