"""shiftrnn as a library: the stages of the pipeline as functions (see shiftrnn/api.py).

The packages underneath keep their roles: train/ (PyTorch QAT and export), hw/ (the model file,
the bit-exact reference, the Verilog generator, boards), sim/ (cocotb against the reference).
"""

from hw.errors import UserError

from .api import (
    GenerateResult,
    SimResult,
    TrainResult,
    build,
    export,
    generate,
    host,
    simulate,
    train,
)

__all__ = ["GenerateResult", "SimResult", "TrainResult", "UserError", "build", "export",
           "generate", "host", "simulate", "train"]
