"""`python -m hw check model.json`: validate and summarise a model file; `weight_stats`, the
weights' count, nonzeros and memory bits (the one home of these figures: the demo report and
the explorer's records read them here)."""

from __future__ import annotations

from dataclasses import dataclass

from . import modelfile
from .reference import accumulator_widths


@dataclass(frozen=True)
class WeightStats:
    count: int  # weights in every matrix (head included)
    nonzero: int  # of them nonzero
    bits: int  # weight memory: each weight's code bits


def weight_stats(model: modelfile.Model) -> WeightStats:
    count = nonzero = bits = 0
    for _, m in model.matrices():
        count += m.codes.size
        nonzero += int((m.codes != 0).sum())
        bits += m.codes.size * m.code_bits
    return WeightStats(count, nonzero, bits)


def add_arguments(p) -> None:
    p.add_argument("model", help="path to model.json")


def summary(model: modelfile.Model) -> str:
    f = model.formats
    lines = [
        f"cell        {model.cell}, {model.num_layers} layer(s), input {model.input_size}, "
        f"hidden {model.hidden_size}, activation {model.activation}",
        "head        " + (f"{model.head.weight.shape[0]} outputs" if model.head else "none"),
        "input       " + (f"one-hot over {model.input_size} symbols (a beat is a token index, "
                          f"{model.beat_element[0]} bits)" if model.onehot else
                          f"{model.input_size} features in Q{f.input.bits}.{f.input.frac}"),
        "formats     " + ", ".join(f"{k} Q{v.bits}.{v.frac}" for k, v in f.items()),
    ]
    for name, m in model.matrices():
        lv = f", {m.levels} levels" if m.scheme == "exponential" else ""
        lines.append(f"  {name:<16} {m.scheme}{lv} {m.shape[0]}x{m.shape[1]}, "
                     f"{int((m.codes != 0).sum())} nonzero, {m.code_bits} bit(s)/weight")
    w = weight_stats(model)
    lines.append(f"weights     {w.count} ({w.nonzero} nonzero), {w.bits} bits of weight memory")
    for i, w in enumerate(accumulator_widths(model)):
        what = f"layer {i}" if i < model.num_layers else "head"
        hh = f", hidden {w.hh}" if i < model.num_layers else ""
        lines.append(f"accumulator {what}: input {w.ih}{hh}, sum {w.sum} bits")
    return "\n".join(lines)


def main(args) -> int:
    print(summary(modelfile.load(args.model)))
    return 0
