"""The stream payloads of a model's top: one input beat and one output beat as Amaranth data
layouts (pure Python, nothing elaborated). Both engines' tops, their plans, the manifest and
hw.gen.simulate take them from here."""

from __future__ import annotations

import math

from amaranth.hdl import signed, unsigned
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


def input_layout(model: Model) -> data.StructLayout:
    return data.StructLayout({
        "data": data.ArrayLayout(signed(model.formats.input.bits), model.input_size),
        "first": 1, "last": 1})


def output_layout(model: Model, emit: str) -> data.StructLayout:
    n, width = output_shape(model, emit)
    fields = {"data": data.ArrayLayout(signed(width), n)}
    if emit != "hidden":
        fields["argmax"] = unsigned(argmax_bits(n))
    fields["last"] = 1
    return data.StructLayout(fields)
