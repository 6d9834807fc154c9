"""The configurations the cocotb tests run: cell x scheme x parallel style x simulator.

`configs(full=True)` is the whole matrix (make test-full, make sim-full); `configs()` the
representative set of make test: every cell, scheme family, emit mode, engine style and both
simulators at least once, with few Verilator builds (each takes tens of seconds on the shared
machine).
"""

from __future__ import annotations

from dataclasses import dataclass

from hw.modelfile import EMITS, Model
from hw.random_model import random_model

CELLS = ("rnn", "gru", "lstm")
SCHEMES = ("binary", "ternary", "pow2-ternary", "exponential", "int4", "int8")
PARALLEL = (1, 3, "unrolled")
SIMULATORS = ("icarus", "verilator")


@dataclass(frozen=True)
class Config:
    simulator: str
    cell: str
    scheme: str
    parallel: object
    emit: str = "last"
    layers: int = 1
    hidden: int = 4
    activation: str = "pwl"
    long: int = 0  # steps of one extra long sequence (0: none)
    seed: int = 0
    storage: str = "memory"
    simd: int = 1
    onehot: bool = False  # the input is one-hot (a beat carries a token index)
    input_scheme: str | None = None  # the first input matrix's and the head's own schemes
    head_scheme: str | None = None
    outputs: int = 3  # the head's (more than hw.gen.topplan.SERIAL_OVER: they stream)

    @property
    def lanes(self):
        """`parallel` counts units whose rows go through the engine at once: the lanes are
        that many times the cell's gate rows (or "unrolled")."""
        if self.parallel == "unrolled":
            return "unrolled"
        return self.parallel * {"rnn": 1, "gru": 3, "lstm": 4}[self.cell]

    @property
    def id(self) -> str:
        p = self.parallel if self.parallel == "unrolled" else f"u{self.parallel}s{self.simd}"
        return (f"{self.simulator}-{self.cell}-{self.scheme}-{p}-{self.emit}"
                f"{'-L' + str(self.layers) if self.layers > 1 else ''}"
                f"{'-long' if self.long else ''}"
                f"{'-reg' if self.storage == 'registers' else ''}"
                f"{'-onehot' if self.onehot else ''}"
                f"{'-in-' + self.input_scheme if self.input_scheme else ''}"
                f"{'-head-' + self.head_scheme if self.head_scheme else ''}"
                f"{'-out' + str(self.outputs) if self.outputs != 3 else ''}")

    def model(self) -> Model:
        m = random_model(cell=self.cell, scheme=self.scheme,
                         input_size=11 if self.onehot else 3,
                         hidden_size=self.hidden, num_layers=self.layers,
                         outputs=None if self.emit == "hidden" else self.outputs,
                         activation=self.activation, seed=self.seed, levels=3,
                         onehot=self.onehot, input_scheme=self.input_scheme,
                         head_scheme=self.head_scheme)
        if self.emit != "hidden":
            m.emit = self.emit
        return m


REPRESENTATIVE = (
    Config("icarus", "gru", "ternary", 2, "last", long=1000, simd=2),
    Config("icarus", "lstm", "exponential", "unrolled", "every", layers=2, long=1000,
           storage="registers"),
    Config("icarus", "rnn", "int4", 1, "hidden", activation="hard", hidden=5),
    Config("icarus", "gru", "pow2-ternary", 3, "every", hidden=5, simd=4),
    Config("icarus", "lstm", "binary", 4, "last", simd=8),
    Config("icarus", "rnn", "int8", "unrolled", "last", layers=2, storage="registers"),
    Config("verilator", "gru", "ternary", 2, "last", long=1000, simd=4),
    Config("verilator", "lstm", "int8", 3, "every", layers=2, simd=2),
    # the same memories as flip-flops
    Config("icarus", "lstm", "ternary", 2, "every", layers=2, long=1000, storage="registers"),
    Config("verilator", "gru", "exponential", 3, "hidden", storage="registers", simd=2),
    # a one-hot input (a token a beat) with an int8 input matrix and head (issue 29's models)
    Config("icarus", "gru", "ternary", 2, "every", simd=2, onehot=True, input_scheme="int8",
           head_scheme="int8"),
    # an int8 head on its own multiplier engine after two shift-scheme layers, emit last
    Config("icarus", "lstm", "exponential", 1, "last", layers=2, simd=2, head_scheme="int8"),
    # outputs that stream out of a memory as element beats (hw.gen.serial): on the layers'
    # engine, and on a head engine of its own beside the next step's layers
    Config("verilator", "gru", "ternary", 1, "every", hidden=8, outputs=23, simd=2),
    Config("icarus", "rnn", "exponential", 1, "last", hidden=8, outputs=19,
           head_scheme="int8"),
    Config("icarus", "lstm", "ternary", 1, "every", hidden=6, outputs=21, head_scheme="int8"),
)


def configs(full: bool = False) -> list[Config]:
    """Icarus runs every cell x scheme x parallel style, and each cell x scheme once with
    storage 'memory'; Verilator (a build takes 15-80 s here) every cell x scheme, the parallel
    style rotating. Emit mode, depth, activation, seed and a long sequence rotate through the
    matrix."""
    if not full:
        return list(REPRESENTATIVE)
    out = []
    n = 0
    # EMITS[(n + 1) % 3]: last, every, hidden in turn (the draw the matrix has always made)
    for cell in CELLS:
        for scheme in SCHEMES:
            for par in PARALLEL:
                kw = dict(layers=1 + (n // 3) % 2, activation=("pwl", "hard")[(n // 2) % 2],
                          long=1000 if n % 9 == 0 else 0, seed=n)
                kw["simd"] = 1 if par == "unrolled" else (1, 2, 4)[n % 3]
                if par == "unrolled":
                    kw["storage"] = "registers"
                out.append(Config("icarus", cell, scheme, par, EMITS[(n + 1) % 3], **kw))
                if PARALLEL.index(par) == (n // 3) % 3:
                    out.append(Config("verilator", cell, scheme, par, EMITS[(n + 2) % 3], **kw))
                n += 1
            out.append(Config("icarus", cell, scheme, 2, EMITS[(n + 1) % 3], layers=1 + n % 2,
                              seed=n, storage="registers", simd=2))
    return out
