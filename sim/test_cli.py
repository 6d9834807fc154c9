"""`python -m sim RUN`: sim.json on a run folder, the task metric from the RTL's own beats
equal to the reference model's, and one-line errors for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hw import metrics
from hw.gen.design import seal
from hw.gen.manifest import load_manifest, save_manifest
from hw.modelfile import load, save
from hw.random_model import random_inputs, random_model
from hw.reference import Reference
from sim.__main__ import main
from sim.stimulus import generate

ROOT = Path(__file__).resolve().parents[1]


def run_folder(path: Path, *, emit="last", metric="accuracy", n=30, seed=3) -> metrics.TestSet:
    """A random model and a test set whose labels come from an independent random source."""
    model = random_model(cell="gru", scheme="ternary", input_size=3, hidden_size=4, seed=seed)
    model.emit, model.metric = emit, metric
    path.mkdir(parents=True)
    save(model, path / "model.json")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 9, n)
    x = random_inputs(rng, model, (n, 8))
    x = np.where((np.arange(8)[None, :] < lengths[:, None])[..., None], x, 0)
    if emit == "every":
        y = np.where(np.arange(8)[None, :] < lengths[:, None], rng.integers(0, 3, (n, 8)), -1)
    else:
        y = rng.integers(0, 3, n)
    ts = metrics.TestSet(x, lengths, y)
    metrics.save_testset(ts, path / "testset.npz")
    return ts


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_accuracy_of_rtl_equals_reference_icarus(tmp_path):
    run = tmp_path / "run"
    ts = run_folder(run)
    assert main([str(run), "--simulator", "icarus", "--parallel", "3"]) == 0  # generates top.v
    out = json.loads((run / "sim.json").read_text())
    model = load(run / "model.json")
    pred = [Reference(model).predict(ts.sequence(i)) for i in range(len(ts))]
    want = metrics.accuracy(pred, ts.y)
    assert out["rtl_predictions"] == [int(p) for p in pred]
    assert out["metric"] == "accuracy"
    assert out["rtl_metric"] == out["reference_metric"] == want
    assert 0 < want < 1  # random labels: a real number, not a trivial 0 or 1
    assert (out["sequences"], out["steps"], out["mismatches"]) == (30, ts.lengths.sum(), 0)
    assert out["cycles_per_step"] == out["manifest_cycles_per_step"]
    assert out["latency"] == out["manifest_latency"] and out["sim_cycles_per_second"] > 0
    # the design it checked, for make bitstream to find
    assert out["design_hash"] == json.loads((run / "manifest.json").read_text())["design_hash"]


def test_bits_per_symbol_of_rtl_equals_reference_verilator(tmp_path):
    run = tmp_path / "run"
    ts = run_folder(run, emit="every", metric="bpc", n=12)
    generate(None, run, "unrolled")
    assert main([str(run), "--simulator", "verilator"]) == 0
    out = json.loads((run / "sim.json").read_text())
    model = load(run / "model.json")
    ref = Reference(model)
    logits = ref.head(ref.run(ts.x))  # padded steps have target -1 and are skipped
    want = metrics.bits_per_symbol(logits, model.formats.output, ts.y)
    assert out["simulator"] == "verilator" and out["mismatches"] == 0
    assert out["rtl_metric"] == out["reference_metric"] == want > 0


def test_mismatches_are_counted_and_exit_1(tmp_path):
    run = tmp_path / "run"
    run_folder(run, n=6)
    generate(None, run, 3)
    model = load(run / "model.json")
    model.head.bias[0] += 1  # top.v no longer computes this model
    save(model, run / "model.json")
    # ... and the manifest is forged to say it does (as a generator bug would write it: the
    # design hash check refuses a model changed behind its back)
    man = seal(load_manifest(run / "manifest.json"), run / "model.json", run / "top.v")
    save_manifest(man, run / "manifest.json")
    r = cli(run)
    assert r.returncode == 1, r.stderr
    out = json.loads((run / "sim.json").read_text())
    assert out["mismatches"] == 6 and out["rtl_metric"] is not None
    assert "first mismatch: sequence 0, step " in r.stderr and "unit data[0]" in r.stderr


@pytest.mark.parametrize("case", ["no-run", "no-model", "no-testset", "no-manifest",
                                  "simulator", "bad-data"])
def test_bad_input_is_one_line_exit_2(tmp_path, case):
    run = tmp_path / "run"
    if case != "no-run":
        run_folder(run, n=3)
    args = [run]
    if case == "no-model":
        (run / "model.json").unlink()
    elif case == "no-testset":
        (run / "testset.npz").unlink()
        (run / "top.v").write_text("module top; endmodule\n")
        (run / "manifest.json").write_text("{}")
    elif case == "no-manifest":
        (run / "top.v").write_text("module top; endmodule\n")
    elif case == "simulator":
        args += ["--simulator", "xsim"]
    elif case == "bad-data":
        args += ["--data", tmp_path / "nothing.npz"]
    r = cli(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    word = {"no-run": "does not exist", "no-model": "model.json",
            "no-testset": "testset.npz does not exist",
            "no-manifest": "manifest.json", "simulator": "unknown simulator 'xsim'",
            "bad-data": "nothing.npz"}[case]
    assert word in lines[0]


@pytest.mark.parametrize("case", ["json", "range", "length", "limit"])
def test_bad_test_sets_fail_before_any_build(tmp_path, case):
    run = tmp_path / "run"
    ts = run_folder(run, n=4)
    data = tmp_path / "t.npz"
    fmt = load(run / "model.json").formats.input
    args = [run, "--data", data]
    if case == "json":
        data.write_text('{"x": [[[1, 2, 3]]]}')
        message = f"test set {data} is not an .npz archive"
    elif case == "range":
        ts.x[2, 0, 1] = fmt.max + 1
        metrics.save_testset(ts, data)
        message = f"x[2][0][1] is {fmt.max + 1}, outside the input format Q{fmt.bits}.{fmt.frac}"
    elif case == "length":
        ts.lengths[3] = 0
        metrics.save_testset(ts, data)
        message = "sequence 3 has length 0; lengths must be 1..8"
    else:
        args = [run, "--limit", "0"]
        message = "--limit must be a positive number of sequences, not 0"
    r = cli(*args)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and message in r.stderr, \
        r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stdout + r.stderr
    assert not (run / "top.v").exists() and not (run / "sim_build").exists()


def test_limit_simulates_the_first_sequences(tmp_path):
    run = tmp_path / "run"
    ts = run_folder(run, n=9)
    assert main([str(run), "--limit", "4", "--parallel", "3"]) == 0  # verilator by default
    out = json.loads((run / "sim.json").read_text())
    assert (out["simulator"], out["sequences"], out["limit"]) == ("verilator", 4, 4)
    assert out["steps"] == ts.lengths[:4].sum() and out["mismatches"] == 0


def test_a_top_v_generated_for_another_model_is_refused(tmp_path):
    run = tmp_path / "run"
    run_folder(run, n=3)
    generate(None, run, 3)
    model = load(run / "model.json")
    model.head.bias[0] += 1  # retrained into the same folder: same shapes, other numbers
    save(model, run / "model.json")
    r = cli(run, "--simulator", "icarus")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert f"{run / 'model.json'} is not the model {run / 'top.v'} was generated from" in r.stderr
    assert r.stderr.rstrip().endswith(f"regenerate with make verilog RUN={run} BOARD=icebreaker")
    assert not (run / "sim_build").exists()
