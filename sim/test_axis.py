"""`--ports axis` tops in both simulation paths, bit for bit against the reference model:
the cocotb testbench on Icarus (steady, stalls, a reset mid-sequence on the active-low
`aresetn`, an abandoned sequence) and the C++ Verilator harness of sim/verilated.py (stalls,
idle cycles, resets; a one-LSB-off reference is caught). examples/axis_instance.v, the
instantiation example of docs/boards.md, lints clean against a generated core."""

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import soak
from hw.gen.manifest import load_manifest
from hw.random_model import random_model
from sim import runner
from sim.job import Flow, Job, read_report, write_job
from sim.stimulus import generate, sequences

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "axis_instance.v"


def test_axis_top_matches_reference_icarus(tmp_path):
    model = random_model(cell="lstm", scheme="ternary", input_size=3, hidden_size=4,
                         outputs=5, seed=11)
    model.emit = "every"
    run = generate(model, tmp_path / "run", 4, ports="axis")
    man = load_manifest(run / "manifest.json")
    assert (man.clock, man.reset, man.reset_active_low) == ("aclk", "aresetn", True)
    assert [p for p, _, _ in man.input.ports] == ["s_axis_tdata", "s_axis_tuser",
                                                  "s_axis_tlast"]
    x, lengths = sequences(model, np.random.default_rng(4), count=6, max_len=8)
    flows = {"steady": Flow(), "stalls": Flow(idle=0.3, backpressure=0.3)}
    job = write_job(Job(model=str(run / "model.json"), manifest=str(run / "manifest.json"),
                        folder=str(tmp_path / "build"), seed=4, flows=flows), x, lengths)
    runner.build([run / "top.v"], "top", job.folder, "icarus")
    result = runner.run("top", "sim.tb_top", job.folder, "icarus", extra_env=job.env())
    assert result.tests == 4 and not result.failures, result.failures
    steady, beats = read_report(job.folder, "stream_steady")
    stalls, _ = read_report(job.folder, "stream_stalls")
    assert steady["steps"] == stalls["steps"] == lengths.sum()
    assert steady["beats"] == len(beats["item"]) == lengths.sum()  # emit every
    assert steady["mismatches"] == stalls["mismatches"] == 0
    assert steady["interval_min"] == steady["interval_max"] == man.cycles_per_step
    assert steady["latency_min"] == steady["latency_max"] == man.latency


def test_axis_top_in_the_verilator_harness_exact_and_can_fail(tmp_path):
    case = replace(soak.make_case(3, 9, 200), cell="gru", layers=1, hidden=5, inputs=3,
                   emit="last", lanes=3, simd=2, storage="memory", idle=0.3, stall=0.3,
                   resets=2, ports="axis")
    rec = soak.soak_one(case, tmp_path / "m")
    assert rec["error"] is None and rec["first_mismatch"] is None, rec
    assert rec["mismatches"] == 0 and rec["steps"] >= 200
    text = (tmp_path / "m" / "top.v").read_text()
    assert "s_axis_tdata" in text and "aresetn" in text
    wrong = case.model()
    wrong.head.bias[0] += 1
    rec = soak.soak_one(case, tmp_path / "m", ref_model=wrong)  # the same build
    assert rec["mismatches"] > 0 and "unit data[0]" in rec["first_mismatch"]


def _lint(run: Path, in_w: int, out_w: int) -> list[str]:
    runner.check_simulator("verilator")  # puts the venv's Verilator on PATH
    r = subprocess.run(["verilator", "--lint-only", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                        "-Wno-CASEINCOMPLETE", "-Wwarn-WIDTHEXPAND", "-Wwarn-WIDTHTRUNC",
                        "--top-module", "rnn_in_my_design", f"-GIN_DATA_W={in_w}",
                        f"-GOUT_DATA_W={out_w}", str(EXAMPLE), str(run / "top.v")],
                       cwd=run, capture_output=True, text=True, timeout=300, env=os.environ)
    assert r.returncode == 0, r.stderr[-2000:]
    return [ln for ln in r.stderr.splitlines() if "%Warning" in ln and EXAMPLE.name in ln]


def test_the_instantiation_example_fits_the_generated_core(tmp_path):
    model = random_model(cell="gru", input_size=3, hidden_size=4, outputs=5, seed=2)
    run = generate(model, tmp_path / "run", 3, ports="axis")
    man = json.loads((run / "manifest.json").read_text())
    in_w = man["input"]["payload_ports"][0]["width"]
    out_w = man["output"]["payload_ports"][0]["width"]
    assert _lint(run, in_w, out_w) == []
    assert any("s_axis_tdata" in w for w in _lint(run, in_w - 1, out_w))
    assert any("m_axis_tdata" in w for w in _lint(run, in_w, out_w + 1))
