"""The stages of one trial: the project's own commands, in the trial's run folder.

Each stage is a command of this project (`python -m train`, `python -m hw verilog`,
`python -m sim`, `python -m hw bitstream`): its argv is parsed by that command's own parser
into the command's options and handed to the function the command calls (`generate_run`,
`simulate`, `bitstream`), so the record's `commands` rerun the trial exactly, alone, from a
shell. A stage that raises ends the trial, whose record keeps the
stage's one-line error. explore/trial.py runs these in a process of their own.

A trial that reuses another's reloadable design (`StageSettings.shape_from`, docs/explore.md)
runs other commands after training: `hw load --check` (its model fits that design's shape;
the design's figures), `sim.board_load` (the board-level simulation with its weights loaded
over the simulated UART) and, in place of a bitstream build, `hw load --port PORT` (what puts
it on the board that runs that bitstream: not run here; the figures are the bitstream's).
"""

from __future__ import annotations

import shlex
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from hw.errors import UserError

from .space import AUTO, StageSettings


def commands(point: dict, st: StageSettings, run: Path) -> dict[str, list[str]]:
    """stage -> argv after `python -m` (`parallel = "auto"`: the generator sizes the engine
    for the point's board, and the bitstream follows the manifest it writes)."""
    train = ["train", "--task", point["task"], "--cell", point["cell"],
             "--hidden", str(point["hidden"]), "--layers", str(point["layers"]),
             "--quant", point["quant"], "--mode", point["mode"], "--seed", str(point["seed"]),
             "--out", str(run)]
    if point["data"] is not None:
        train += ["--data", point["data"]]
    if point["epochs"] is not None:
        train += ["--epochs", str(point["epochs"])]
    if st.baseline:
        train += ["--baseline"]
    out = {"train": train,
           # the unrolled engine keeps its vectors in registers and takes no --simd
           "verilog": ["hw", "verilog", str(run / "model.json"), "--parallel",
                       str(point["parallel"])]
           + ([] if point["parallel"] == "unrolled" else ["--storage", point["storage"]])
           + ["--board", point["board"], "--out", str(run)]
           + ([] if point["parallel"] in (AUTO, "unrolled")
              else ["--simd", str(point.get("simd", 1))]),
           "sim": ["sim", str(run), "--simulator", st.simulator]}
    first = ["--data", str(run / f"testset-first{st.sim_sequences}.npz")]
    if st.sim_sequences:
        out["sim"] += first
    bit = ["hw", "bitstream", str(run), "--board", point["board"], "--clock-mhz", _clock(st, point)]
    out["bitstream"] = bit + ([] if point["dsp"] else ["--no-dsp"])
    if st.reload and st.shape_from is None and point["parallel"] != "unrolled":
        out["verilog"] += ["--reloadable"]  # the design the trials of its shape reuse
        out["bitstream"] += ["--reloadable"]
    if st.shape_from is not None:
        built = ["--shape-from", st.shape_from]
        out["verilog"] = ["hw", "load", str(run), *built, "--check"]
        out["sim"] = ["sim.board_load", str(run), *built] + (first if st.sim_sequences else [])
        out["bitstream"] = ["hw", "load", str(run), *built, "--port", "PORT"]
    return {k: v for k, v in out.items() if k in st.run}


def _clock(st: StageSettings, point: dict) -> str:
    if st.clock_mhz == "osc":
        from hw.board.registry import BOARDS

        return f"{BOARDS[point['board']].osc_hz / 1e6:g}"
    return str(st.clock_mhz)


def shell_line(argv: list[str]) -> str:
    return "python -m " + " ".join(shlex.quote(a) for a in argv)


def run_stages(point: dict, st: StageSettings, run: Path, key: str) -> dict:
    """Run every stage of one trial in the folder `run`; return its record. The stages' output
    goes to this process's stdout and stderr (the trial log: explore/trial.py)."""
    argv = commands(point, st, run)
    stages = STAGES if st.shape_from is None else LOAD_STAGES
    rec = {"hash": key, "config": point, "stages": asdict(st), "run": str(run),
           "status": "ok", "failed_stage": None, "error": None, "figures": {}, "seconds": {},
           "commands": []}
    t_all = time.monotonic()
    for stage in st.run:
        t0 = time.monotonic()
        print(f"$ {shell_line(argv[stage])}", flush=True)
        try:
            rec["figures"][stage] = stages[stage](argv, point, st, run)
        except Exception as e:  # noqa: BLE001 - any failure ends the trial, not the sweep
            traceback.print_exc()
            rec.update(status="failed", failed_stage=stage, error=one_line(e))
        finally:
            rec["seconds"][stage] = round(time.monotonic() - t0, 2)
            rec["commands"].append(shell_line(argv[stage]))
        sys.stdout.flush()
        if rec["status"] != "ok":
            break
    rec["seconds"]["total"] = round(time.monotonic() - t_all, 2)
    return rec


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    first = text[0] if text else ""
    return first if isinstance(e, UserError) else f"{type(e).__name__}: {first}"


# ---------------------------------------------------------------- the stages

def _parse(add_arguments, argv: list[str]):
    from hw.cli import Parser

    p = Parser(prog=f"python -m {' '.join(argv[:2])}")
    add_arguments(p)
    return p.parse_args(argv[2:])


def _train(argv, point, st, run) -> dict:
    from hw.check import weight_stats
    from hw.modelfile import load
    from train.__main__ import config_from, parser
    from train.loop import run as train_run

    args = parser().parse_args(argv["train"][1:] + ["--no-progress"])
    res = train_run(config_from(args).check(), args.out, progress=False)
    w = weight_stats(load(run / "model.json"))
    out = {k: res[k] for k in ("metric", "qat", "integer", "exact", "float", "ptq") if k in res}
    out.update(train_seconds=res["seconds"], weights=w.count, nonzero_weights=w.nonzero,
               weight_bits=w.bits)
    return out


def _verilog(argv, point, st, run) -> dict:
    from hw.gen import cli

    args = _parse(cli.add_arguments, argv["verilog"])
    man = cli.generate_run(*cli.options_from(args)).manifest
    r = man.resources
    return {"parallel": man.parallel, "simd": man.simd,
            "cycles_per_step": man.cycles_per_step,
            "latency": man.latency, "lanes": r.get("lanes"), "adders": r.get("adders"),
            "multipliers": r.get("multipliers"), "memory_bits": r.get("memory_bits"),
            "state_bits": r.get("state_bits")}


def _sim(argv, point, st, run) -> dict:
    from sim.__main__ import options_from, parser
    from sim.runner import SimulationFailed
    from sim.simulate import simulate

    _sequences(st, run)
    args = parser().parse_args(argv["sim"][1:])
    out = simulate(args.run, options_from(args)).report
    if out["mismatches"]:
        raise SimulationFailed(f"{out['mismatches']} output beats differ from the reference "
                               f"model; first: {out['first_mismatch']}")
    return {k: out[k] for k in ("sequences", "steps", "mismatches", "metric", "rtl_metric",
                                "reference_metric", "cycles_per_step", "latency")}


def _bitstream(argv, point, st, run) -> dict:
    from hw.board import bitstream as stage

    args = _parse(stage.add_arguments, argv["bitstream"])
    b = stage.bitstream(*stage.options_from(args))
    out = {k: getattr(b, k) for k in ("board", "lut", "lut_available", "ff", "bram", "dsp",
                                      "fmax_mhz", "clock_mhz", "cycles_per_step", "us_per_step",
                                      "build_seconds")}
    out["steps_per_s"] = round(1e6 / b.us_per_step, 1) if b.us_per_step else None
    return out


def _sequences(st, run: Path) -> None:
    """The first `sim_sequences` test sequences as a file of their own (the sim stages')."""
    from hw import metrics

    if st.sim_sequences:
        ts = metrics.load_testset(run / "testset.npz")
        n = min(st.sim_sequences, len(ts))
        metrics.save_testset(metrics.TestSet(ts.x[:n], ts.lengths[:n], ts.y[:n]),
                             run / f"testset-first{st.sim_sequences}.npz")


def _load_check(argv, point, st, run) -> dict:
    """A reusing trial's verilog stage: its model fits the shape; the design's figures."""
    from hw.board import load as hw_load
    from hw.gen.design import check_run

    args = _parse(hw_load.add_arguments, argv["verilog"])
    prep = hw_load.prepare(args.run, args.shape_from)
    man = check_run(args.shape_from)
    r = man.resources
    return {"parallel": man.parallel, "simd": man.simd, "cycles_per_step": man.cycles_per_step,
            "latency": man.latency, "lanes": r.get("lanes"), "adders": r.get("adders"),
            "multipliers": r.get("multipliers"), "memory_bits": r.get("memory_bits"),
            "state_bits": r.get("state_bits"), "reused_from": args.shape_from,
            "shape": f"{prep.shape:08x}", "load_words": prep.words}


def _board_sim(argv, point, st, run) -> dict:
    """A reusing trial's sim stage: the board-level simulation with its weights loaded."""
    from sim.board_load import BoardLoadOptions, board_load, parser

    _sequences(st, run)
    args = parser().parse_args(argv["sim"][1:])
    rec = board_load(args.run, args.shape_from, BoardLoadOptions(args.data, args.limit))
    return {k: rec[k] for k in ("sequences", "steps", "mismatches", "metric", "rtl_metric",
                                "load_frames", "load_bytes", "load_sim_seconds")}


def _reused_bitstream(argv, point, st, run) -> dict:
    """A reusing trial's bitstream stage: the reused design's bitstream, not built again."""
    import json

    from hw.board import load as hw_load

    args = _parse(hw_load.add_arguments, argv["bitstream"])
    path = Path(args.shape_from) / "bitstream.json"
    if not path.is_file():
        raise UserError(f"{path} does not exist: the trial whose design this one reuses built "
                        f"no bitstream")
    b = json.loads(path.read_text())
    out = {k: b.get(k) for k in ("board", "lut", "lut_available", "ff", "bram", "dsp",
                                 "fmax_mhz", "clock_mhz", "cycles_per_step", "us_per_step")}
    out["steps_per_s"] = round(1e6 / b["us_per_step"], 1) if b.get("us_per_step") else None
    out.update(build_seconds=0.0, reused_from=args.shape_from)
    return out


STAGES = {"train": _train, "verilog": _verilog, "sim": _sim, "bitstream": _bitstream}
LOAD_STAGES = {"train": _train, "verilog": _load_check, "sim": _board_sim,
               "bitstream": _reused_bitstream}
