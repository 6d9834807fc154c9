"""`python -m sim RUN`: simulate a run folder's top.v on its test set and write RUN/sim.json.

RUN/top.v (generated first from RUN/model.json when neither it nor the manifest exists), once
the design hash shows it is the one `make verilog` wrote for RUN/model.json (hw.gen.design),
streams every sequence of the test set in a cocotb testbench (sim/tb_top.py, flow `steady`:
input always valid, output always ready); every output beat is compared with the reference
model's. sim.json reports the counts, the task metric computed from the RTL's own output
beats next to the reference model's, the measured speed and the design hash it checked (which
`make bitstream` reads). Bad input is a UserError (one line, exit 2).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw import metrics
from hw.errors import UserError
from hw.fileio import atomic_write_text, writable_folder
from hw.gen.cli import generate_run
from hw.gen.design import check_run
from hw.gen.manifest import Manifest
from hw.gen.options import GenerateOptions
from hw.modelfile import Model, load
from hw.reference import Reference

from . import runner
from .expect import Item, expected_items
from .job import Flow, Job, read_report, write_job


@dataclass(frozen=True)
class SimOptions:
    simulator: str = "verilator"  # sim.runner.SIMULATORS
    data: Path | str | None = None  # the test set (default RUN/testset.npz)
    limit: int | None = None  # simulate the first N sequences only
    parallel: int | str = "auto"  # the lanes, only when top.v must be generated first
    waves: bool = False  # record waveforms in RUN/sim_build/SIMULATOR


@dataclass(frozen=True)
class SimResult:
    run: Path
    simulator: str
    sequences: int
    mismatches: int
    rtl_metric: float | None
    reference_metric: float | None
    cycles_per_step: float
    design_hash: str  # the design it checked (hw.gen.design)
    report: dict  # all of RUN/sim.json


def prepare(run: Path, parallel) -> tuple[Model, Manifest]:
    """Check the run folder (the design hash ties model.json, top.v and manifest.json
    together); generate top.v and manifest.json first when neither exists."""
    if not run.is_dir():
        raise UserError(f"run folder {run} does not exist (make train RUN={run} creates it)")
    if not (run / "model.json").is_file():
        raise UserError(f"{run / 'model.json'} does not exist (make train writes it)")
    writable_folder(run, "run folder")
    if not (run / "top.v").exists() and not (run / "manifest.json").exists():
        print(f"{run / 'top.v'} is missing: generating it (--parallel {parallel})", flush=True)
        generate_run(run / "model.json", GenerateOptions(parallel=parallel), run)
    man = check_run(run)
    return load(run / "model.json"), man


# Rough simulated cycles per second on the 2-core development machine, only to warn before a
# long run: Icarus ran a digits GRU 32 at about 2,300, Verilator the demo at about 69,000.
TYPICAL_RATE = {"icarus": 2_300, "verilator": 69_000}
WARN_SECONDS = 120


def simulate(run, options: SimOptions | None = None) -> SimResult:
    """Simulate RUN's top.v on its test set (the first `limit` sequences) and write
    RUN/sim.json; the result holds its content."""
    run, options = Path(run), options or SimOptions()
    simulator, data, limit = options.simulator, options.data, options.limit
    parallel, waves = options.parallel, options.waves
    runner.check_simulator(simulator)
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be a positive number of sequences, not {limit}")
    ts_path = Path(data) if data else run / "testset.npz"
    ts = None
    if (run / "model.json").is_file():  # check the inputs before generating or building
        ts = metrics.load_testset(ts_path)
        metrics.check_testset(ts, load(run / "model.json"), ts_path)
    model, man = prepare(run, parallel)
    if ts is None:
        ts = metrics.load_testset(ts_path)
    metrics.check_testset(ts, model, ts_path)
    if limit is not None and limit < len(ts):
        ts = metrics.TestSet(ts.x[:limit], ts.lengths[:limit], ts.y[:limit])
    estimate = int(ts.lengths.sum()) * man.cycles_per_step / TYPICAL_RATE[simulator]
    if estimate > WARN_SECONDS:
        print(f"{len(ts)} sequences will take about {estimate / 60:.0f} min on {simulator} "
              f"(at a typical {TYPICAL_RATE[simulator]} cycles/s); LIMIT=N (--limit N) "
              f"simulates the first N", flush=True)
    build = run / "sim_build" / simulator
    build.mkdir(parents=True, exist_ok=True)
    job = write_job(Job(model=str((run / "model.json").resolve()),
                        manifest=str((run / "manifest.json").resolve()),
                        folder=str(build.resolve()), stop_at_first=False,
                        flows={"steady": Flow()}, checks=False, progress=True),
                    ts.x, ts.lengths)
    print(f"building {run / 'top.v'} for {simulator} (log: {build / 'build.log'})", flush=True)
    t0 = time.perf_counter()
    try:
        runner.build([run / "top.v"], man.top, build, simulator, waves=waves,
                     log_file=build / "build.log")
    except RuntimeError as e:
        raise UserError(f"{simulator} could not build {run / 'top.v'} ({e}); see "
                        f"{build / 'build.log'}") from None
    print(f"built in {time.perf_counter() - t0:.1f} s; simulating {len(ts)} sequences, "
          f"{int(ts.lengths.sum())} steps", flush=True)
    result = runner.run(man.top, "sim.tb_top", build, simulator, extra_env=job.env(),
                        waves=waves, test_filter="stream/flow=steady", check=False)
    try:
        rep, beats = read_report(build, "stream_steady")
    except FileNotFoundError:
        raise runner.SimulationFailed(f"the simulation wrote no report: "
                                      f"{'; '.join(result.failures) or 'see its output'}"
                                      ) from None
    ref = Reference(model)
    items = expected_items(ref, [Item(str(i), ts.sequence(i)) for i in range(len(ts))],
                           man.emit)
    out = {"simulator": simulator, "sequences": len(ts), "steps": int(ts.lengths.sum()),
           "mismatches": rep["mismatches"], "first_mismatch": rep["first_mismatch"],
           "metric": None, "rtl_metric": None, "reference_metric": None}
    if man.emit != "hidden":
        name = model.metric_name
        exp = np.concatenate([it.data for it in items])
        exp_item = np.concatenate([np.full(len(it.data), i) for i, it in enumerate(items)])
        exp_am = np.concatenate([it.argmax for it in items])
        fmt = model.formats.output
        r_logits, r_am = metrics.outputs_from_beats(ts.x.shape[1], len(ts), exp_item, exp, exp_am,
                                                    man.emit)
        out.update(metric=name, reference_metric=metrics.task_metric(
            name, r_logits, ts.y, fmt, lengths=ts.lengths, argmax=r_am))
        got_item = beats["item"]
        if len(got_item) == len(exp_item) and (got_item == exp_item).all():
            g_logits, g_am = metrics.outputs_from_beats(ts.x.shape[1], len(ts), got_item,
                                                        beats["data"], beats["argmax"], man.emit)
            out["rtl_metric"] = metrics.task_metric(name, g_logits, ts.y, fmt, lengths=ts.lengths,
                                                    argmax=g_am)
            if man.emit == "last":  # one class per sequence, as the RTL chose it
                out["rtl_predictions"] = g_am.tolist()
    out.update({
        "cycles_per_step": rep["interval_mean"], "manifest_cycles_per_step": man.cycles_per_step,
        "latency": rep["latency_max"], "manifest_latency": man.latency,
        "cycles": rep["cycles"], "cycles_per_step_overall": rep["cycles"] / max(1, out["steps"]),
        "sim_cycles_per_second": rep["cycles_per_second"], "sim_wall_s": rep["wall_s"],
        "emit": man.emit, "parallel": man.parallel, "top": str(run / "top.v"),
        "testset": str(ts_path), "limit": limit, "design_hash": man.design_hash,
    })
    atomic_write_text(run / "sim.json", json.dumps(out, indent=1) + "\n")
    return SimResult(run, simulator, out["sequences"], out["mismatches"], out["rtl_metric"],
                     out["reference_metric"], out["cycles_per_step"], man.design_hash, out)
