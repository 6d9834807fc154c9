"""The stream payloads of a model's top: one input beat and one output beat as Amaranth data
layouts (pure Python, nothing elaborated). Both engines' tops, their plans, the manifest and
hw.gen.simulate take them from here."""

from __future__ import annotations

import math

from amaranth.hdl import Mux, signed, unsigned
from amaranth.lib import data

from ..modelfile import Model


def output_shape(model: Model, emit: str) -> tuple[int, int]:
    """(values, bits each) of an output beat: the last layer's h, or the head's outputs."""
    f = model.formats
    if emit == "hidden":
        return model.hidden_size, f.state.bits
    return model.head.weight.shape[0], f.output.bits


def argmax_bits(count: int) -> int:
    return max(1, math.ceil(math.log2(count)))


def input_element(model: Model) -> tuple[int, int, bool]:
    """(bits, count, signed) of an input beat's `data` elements (Model.beat_element)."""
    bits, sign = model.beat_element
    return bits, model.beat_inputs, sign


def input_layout(model: Model) -> data.StructLayout:
    bits, count, sign = input_element(model)
    return data.StructLayout({
        "data": data.ArrayLayout(signed(bits) if sign else unsigned(bits), count),
        "first": 1, "last": 1})


def input_values(model: Model, data_field) -> list:
    """The input vector (input_size values, input format) of an input beat's `data`: its
    elements, or for a one-hot input input.one at the token's index and 0 elsewhere (a token
    outside the vocabulary reads as the zero vector)."""
    if not model.onehot:
        return [data_field[k] for k in range(model.input_size)]
    one = model.formats.input.one
    return [Mux(data_field[0] == k, one, 0) for k in range(model.input_size)]


def output_layout(model: Model, emit: str) -> data.StructLayout:
    n, width = output_shape(model, emit)
    fields = {"data": data.ArrayLayout(signed(width), n)}
    if emit != "hidden":
        fields["argmax"] = unsigned(argmax_bits(n))
    fields["last"] = 1
    return data.StructLayout(fields)


def serial_layout(model: Model, emit: str) -> data.StructLayout:
    """An output element beat of a design that streams its outputs (TopPlan.serial): one
    element in `data`, the argmax and `end` (the output's last element) then `last` (as
    the whole beat's; the top field, as `--ports axis` takes it)."""
    n, width = output_shape(model, emit)
    return data.StructLayout({"data": data.ArrayLayout(signed(width), 1),
                              "argmax": unsigned(argmax_bits(n)), "end": 1, "last": 1})


class BeatLayouts:
    """`in_layout` and `out_layout` for a design plan with `model` and `emit` (both plan
    classes, hw.gen.topplan.TopPlan and hw.gen.unrolled_top.UnrolledPlan, take them so)."""

    @property
    def in_layout(self) -> data.StructLayout:
        return input_layout(self.model)

    @property
    def out_layout(self) -> data.StructLayout:
        if getattr(self, "serial", False):
            return serial_layout(self.model, self.emit)
        return output_layout(self.model, self.emit)
