"""The pipeline's stages as Python functions (for notebooks and scripts), over a run folder.

Each function does what its command does (`python -m train`, `python -m hw verilog`,
`python -m sim`, `python -m hw bitstream`, `python -m hw host`) and returns a typed result
read back from the files the stage wrote, so a notebook and the command line see the same run.
Bad input raises `hw.errors.UserError` with the commands' one-line messages.

    from shiftrnn import train, generate, simulate
    r = train("build/nb", task="digits", hidden=16, epochs=5)
    generate(r.run)
    s = simulate(r.run, limit=50)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, fields
from pathlib import Path

from hw.errors import UserError
from hw.modelfile import Model, load


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
        return load(self.run / "model.json")


@dataclass
class GenerateResult:
    run: Path
    top_v: Path
    cycles_per_step: int
    latency: int
    parallel: int | str
    manifest: dict


@dataclass
class SimResult:
    run: Path
    simulator: str
    sequences: int
    mismatches: int
    rtl_metric: float | None
    reference_metric: float | None
    cycles_per_step: float
    report: dict  # all of RUN/sim.json


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


def generate(run, *, parallel: int | str = "auto", simd: int | None = None,
             storage: str = "memory", board: str = "icebreaker",
             cell_units: int | None = None, ports: str = "native") -> GenerateResult:
    """RUN/top.v and RUN/manifest.json from RUN/model.json (`make verilog`); `parallel`
    "auto" sizes the engine for `board`; `ports` "axis" gives AXI-Stream-style port names."""
    from hw.gen import cli
    from hw.gen.manifest import load_manifest

    run = Path(run)
    cli.main(argparse.Namespace(model=str(run / "model.json"), parallel=str(parallel),
                                simd=simd, board=board, cell_units=cell_units,
                                storage=storage, ports=ports, out=str(run)))
    man = load_manifest(run / "manifest.json")
    return GenerateResult(run, run / "top.v", man.cycles_per_step, man.latency, man.parallel,
                          man.as_dict())


def simulate(run, *, simulator: str = "verilator", data=None, limit: int | None = None,
             parallel: int | str = "auto", waves: bool = False) -> SimResult:
    """RUN/top.v in cocotb against the reference model (`make sim`); RUN/sim.json."""
    from sim.simulate import simulate_run

    out = simulate_run(run, simulator, data, parallel=str(parallel), waves=waves, limit=limit)
    return SimResult(Path(run), out["simulator"], out["sequences"], out["mismatches"],
                     out["rtl_metric"], out["reference_metric"], out["cycles_per_step"], out)


def build(run, *, board: str = "icebreaker", parallel: int | str | None = None,
          storage: str | None = None, clock_mhz: str = "auto", baud: int = 1_000_000,
          dsp: bool = True, seed: int = 1):
    """The board bitstream (`make bitstream`); returns hw.board.build.BuildResult."""
    from hw.board import build as board_build
    from hw.board.catalog import board as find_board

    find_board(board)  # the one-line error before anything else
    run = Path(run)
    board_build.main(argparse.Namespace(
        run=str(run), board=board, parallel=None if parallel is None else str(parallel),
        storage=storage, clock_mhz=str(clock_mhz), baud=baud, no_dsp=not dsp, seed=seed))
    return board_build.BuildResult(**json.loads((run / "bitstream.json").read_text()))


def host(run, port: str, *, data=None, baud: int | None = None, limit: int | None = None,
         timeout: float = 2.0):
    """The test set on the board over its UART (`python -m hw host`); returns
    hw.board.host.Report (ok, mismatches, metric, ...)."""
    from hw import metrics
    from hw.board import host as board_host
    from hw.board.session import Timing

    run = Path(run)
    model = load(run / "model.json")
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
