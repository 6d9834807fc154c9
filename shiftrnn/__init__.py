"""shiftrnn as a library: the stages of the pipeline as functions (see shiftrnn/api.py).

The packages underneath keep their roles: train/ (PyTorch QAT and export), hw/ (the model file,
the bit-exact reference, the Verilog generator, boards), sim/ (cocotb against the reference).
"""

from hw.errors import UserError

from .api import (
    BuildOptions,
    BuildResult,
    Generated,
    GenerateOptions,
    SimOptions,
    SimResult,
    TrainResult,
    build,
    export,
    generate,
    host,
    load,
    simulate,
    train,
)

__all__ = ["BuildOptions", "BuildResult", "GenerateOptions", "Generated", "SimOptions",
           "SimResult", "TrainResult", "UserError", "build", "export", "generate", "host",
           "load", "simulate", "train"]
