"""The pipeline's stages as Python functions (for notebooks and scripts), over a run folder.

Each function is the function its command calls (`python -m train`, `python -m hw verilog`,
`python -m sim`, `python -m hw bitstream`, `python -m hw host`): the commands only parse their
arguments into the same option dataclasses (GenerateOptions, SimOptions, BuildOptions), so a
notebook and the command line run the same code and see the same run folder. Options are
given as the dataclass or as its fields by keyword. Bad input raises `hw.errors.UserError`
with the commands' one-line messages.

    from shiftrnn import train, generate, simulate, build
    r = train("build/nb", task="digits", hidden=16, epochs=5)
    generate(r.run)                      # or generate(r.run, parallel=6, simd=2)
    s = simulate(r.run, limit=50)
    b = build(r.run, board="icebreaker")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from hw.board.bitstream import BuildOptions, bitstream
from hw.board.build import BuildResult
from hw.errors import UserError
from hw.gen.cli import Generated, generate_run
from hw.gen.options import GenerateOptions
from hw.modelfile import Model
from hw.modelfile import load as load_model
from sim.simulate import SimOptions, SimResult
from sim.simulate import simulate as run_simulation


@dataclass
class TrainResult:
    run: Path
    metric: str  # "accuracy" or "bpc"
    qat: float  # the quantized torch model on the test split
    integer: float  # the exported integer model (hw.reference) on the test split
    float_model: float | None  # the float model (--baseline, --ptq, --init with --ptq)
    ptq: float | None  # right after post-training quantization
    seconds: float
    selected_epoch: dict | None  # per phase, when a validation split chose the epoch

    @property
    def model(self) -> Model:
        return load_model(self.run / "model.json")


def _train_result(run: Path) -> TrainResult:
    r = json.loads((run / "train.json").read_text())
    return TrainResult(run, r["metric"], r["qat"], r["integer"], r.get("float"), r.get("ptq"),
                       r["seconds"], r.get("selected_epoch"))


def train(run, *, progress: bool = False, resume: bool = False, overwrite: bool = False,
          **options) -> TrainResult:
    """Train as `python -m train` with `options` named as train.config.Config's fields
    (task, data, cell, hidden, quant, mode, epochs, init, ptq, ptq_finetune, ...). A `run`
    folder that holds a run is refused unless `resume` continues it or `overwrite` replaces it."""
    from train.config import Config
    from train.loop import run as run_training
    from train.runfolder import check_run_folder

    names = {f.name for f in fields(Config)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise UserError(f"unknown training options: {', '.join(unknown)} (see train.config.Config)")
    cfg = Config(**options)
    if resume:
        from train.checkpoint import load_checkpoint

        cfg = Config.from_dict(load_checkpoint(Path(run) / "checkpoint.pt")["config"])
    check_run_folder(run, cfg.check(), resume=resume, overwrite=overwrite,
                     flags=("resume=True", "overwrite=True"))
    run_training(cfg, run, resume=resume, progress=progress, overwrite=overwrite)
    return _train_result(Path(run))


def export(run) -> TrainResult:
    """Write model.json, testset.npz and train.json again from a finished run's checkpoint."""
    return train(run, resume=True)


def _options(cls, options, given: dict, what: str):
    """`options` (a `cls`), or a `cls` made of the keyword arguments `given`."""
    if options is not None:
        if given:
            raise UserError(f"give the {what} options as {cls.__name__} or as keywords, "
                            f"not both")
        if not isinstance(options, cls):
            raise UserError(f"{what} options must be a {cls.__name__}, not "
                            f"{type(options).__name__}")
        return options
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise UserError(f"unknown {what} options: {', '.join(unknown)} (see {cls.__module__}."
                        f"{cls.__name__})")
    return cls(**given)


def generate(run, options: GenerateOptions | None = None, **given) -> Generated:
    """RUN/top.v and RUN/manifest.json from RUN/model.json (`make verilog`): `options` as a
    hw.gen.options.GenerateOptions or its fields as keywords (parallel, simd, board, storage,
    order, cell_units, ports); `parallel` "auto" sizes the engine for `board`."""
    run = Path(run)
    return generate_run(run / "model.json", _options(GenerateOptions, options, given,
                                                     "generation"), run)


def simulate(run, options: SimOptions | None = None, **given) -> SimResult:
    """RUN/top.v in cocotb against the reference model (`make sim`), RUN/sim.json: `options`
    as a sim.simulate.SimOptions or its fields as keywords (simulator, data, limit, parallel,
    waves)."""
    return run_simulation(run, _options(SimOptions, options, given, "simulation"))


def build(run, board: str = "icebreaker", options: BuildOptions | None = None,
          **given) -> BuildResult:
    """The board bitstream of the design `generate` wrote into RUN (`make bitstream`):
    `options` as a hw.board.bitstream.BuildOptions or its fields as keywords (clock_mhz,
    baud, dsp, seed)."""
    return bitstream(run, board, _options(BuildOptions, options, given, "build"))


def load(run, port: str, *, shape_from=None, baud: int | None = None, timeout: float = 2.0):
    """RUN's model into a board running a reloadable design (`python -m hw load`): the
    design is `shape_from`'s (default RUN's); returns hw.board.load.LoadReport (frames,
    bytes, seconds, attempts, fingerprint, shape)."""
    from hw.board.load import load_run

    return load_run(run, port, shape_from=shape_from, baud=baud, timeout=timeout)


def host(run, port: str, *, data=None, baud: int | None = None, limit: int | None = None,
         timeout: float = 2.0):
    """The test set on the board over its UART (`python -m hw host`); returns
    hw.board.host.Report (ok, mismatches, metric, ...)."""
    from hw import metrics
    from hw.board import host as board_host
    from hw.board.session import Timing

    run = Path(run)
    model = load_model(run / "model.json")
    ts = metrics.load_testset(data if data else run / "testset.npz")
    if baud is None:
        bj = run / "bitstream.json"
        baud = int(json.loads(bj.read_text()).get("baud", 1_000_000)) if bj.is_file() \
            else 1_000_000
    transport = board_host.SerialTransport(port, baud)
    try:
        return board_host.run_testset(transport, model, ts, limit=limit,
                                      timing=Timing(reply_s=timeout))
    finally:
        transport.close()
