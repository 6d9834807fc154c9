"""demo/: stage bookkeeping (done, order, settings), the report's figures, bad options."""

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from demo.__main__ import check_settings, steps
from demo.report import gather, markdown
from demo.stages import Settings, Stage, stages
from hw import metrics, modelfile
from hw.check import weight_stats
from hw.gen.cli import generate
from hw.gen.manifest import save_manifest
from hw.random_model import random_model

ROOT = Path(__file__).resolve().parents[1]


def _plan(out):
    return stages(Settings(), out, lambda: None, lambda: None)


def test_a_stage_is_done_when_its_outputs_are_newer_than_its_inputs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    st = Stage("x", "x", [a], [b], func=lambda: None)
    a.write_text("in")
    assert not st.done()  # no output yet
    b.write_text("out")
    os.utime(a, (1000, 1000))
    assert st.done()
    os.utime(a, (os.path.getmtime(b) + 10,) * 2)  # the input changed after the output
    assert not st.done()


def test_steps_hold_every_stage_once_after_what_it_reads(tmp_path):
    plan = _plan(tmp_path)
    order = [[st.name for c in step for st in c] for step in steps(plan)]
    flat = [n for names in order for n in names]
    assert sorted(flat) == sorted(st.name for st in plan)
    made_before = set()
    for step in steps(plan):
        for ch in step:
            made_in_chain = set()
            for st in ch:
                assert all(p in made_before | made_in_chain for p in st.inputs), st.name
                made_in_chain |= set(st.outputs)
        made_before |= {p for ch in step for st in ch for p in st.outputs}


def test_other_settings_start_over_and_the_same_keep_the_stages(tmp_path):
    out = tmp_path / "demo"
    check_settings(out, Settings(), fresh=False)
    (out / "kept").write_text("x")
    check_settings(out, Settings(), fresh=False)
    assert (out / "kept").is_file()
    check_settings(out, Settings(hidden=8), fresh=False)
    assert not (out / "kept").exists()
    assert json.loads((out / "settings.json").read_text())["hidden"] == 8


def _write(path: Path, d: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d))


def _fake_demo(out: Path, mismatches: int) -> None:
    run, base = out / "run", out / "int8"
    model = random_model(cell="gru", scheme="ternary", input_size=4, hidden_size=8,
                         outputs=3, seed=1)
    run.mkdir(parents=True)
    modelfile.save(model, run / "model.json")
    modelfile.save(random_model(cell="gru", scheme="int8", input_size=4, hidden_size=8,
                                outputs=3, seed=1), (base / "model.json"))
    lengths = np.array([5, 5, 3, 3])
    metrics.save_testset(metrics.TestSet(np.zeros((4, 5, 4), np.int64), lengths,
                                         np.array([0, 1, 2, 1])), run / "testset.npz")
    _write(run / "train.json", {"float": 0.5, "qat": 0.75, "integer": 0.75, "exact": True,
                                "seconds": 3.0})
    _write(run / "sim.json", {"rtl_metric": 0.75, "mismatches": mismatches, "simulator": "x",
                              "sequences": 4, "cycles_per_step": 10.0, "latency": 12,
                              "cycles": 200, "rtl_predictions": [0, 1, 2, 2],
                              "design_hash": "ab" * 32})
    save_manifest(generate(model, 3)[1], run / "manifest.json")
    bit = {"board": "icebreaker", "lut": 300, "ff": 100, "bram": 1, "dsp": 2, "fmax_mhz": 30.0,
           "clock_mhz": 12.0, "lut_available": 5280, "bram_available": 30, "dsp_available": 8,
           "dsp_inference": True, "bitstream": "b.bin", "design_hash": "ab" * 32}
    _write(run / "bitstream.json", bit)
    _write(base / "bitstream.json", {**bit, "lut": 400, "ff": 80, "dsp": 0, "fmax_mhz": 24.0})
    _write(base / "int8.json", {"accuracy": 0.5})


def test_report_figures_come_from_the_stage_outputs(tmp_path):
    _fake_demo(tmp_path, mismatches=0)
    rep = gather(tmp_path, asdict(Settings()))
    assert rep["accuracy"] == {"float": 0.5, "qat": 0.75, "integer": 0.75, "rtl": 0.75}
    assert rep["exact"] and rep["rtl_mismatches"] == 0
    r = rep["ratio_to_int8"]
    assert (r["lut"], r["ff"], r["dsp"], r["fmax"]) == (0.75, 1.25, None, 1.25)
    # mean length 4: 3 steps of 10 cycles, then 12 cycles of latency, at 12 MHz
    assert rep["latency_us_per_sequence"] == pytest.approx(42 / 12)
    assert rep["sequences_per_second"] == pytest.approx(4 / (200 / 12e6))
    model = modelfile.load(tmp_path / "run" / "model.json")
    w = weight_stats(model)
    assert w.count == 3 * 8 * (4 + 8) + 3 * 8 and 0 < w.nonzero < w.count
    assert w.bits == 2 * w.count  # two bits per ternary code
    assert rep["weights"] == {"count": w.count, "nonzero": w.nonzero, "bits": w.bits}
    assert rep["parallel"] == 3  # the manifest's
    assert "agree exactly" in markdown(rep, ["cmd"])
    assert rep["simulated_design_built"]
    assert "is the design the simulation checked (design hash `abababababab`)" in \
        markdown(rep, ["cmd"])
    # a bitstream of another design than the one simulated says so
    bit = json.loads((tmp_path / "run" / "bitstream.json").read_text())
    _write(tmp_path / "run" / "bitstream.json", {**bit, "design_hash": "cd" * 32})
    rep = gather(tmp_path, asdict(Settings()))
    assert not rep["simulated_design_built"]
    assert "is not the one the simulation checked" in markdown(rep, ["cmd"])


def test_a_mismatch_is_reported_as_a_bug(tmp_path):
    _fake_demo(tmp_path, mismatches=3)
    rep = gather(tmp_path, asdict(Settings()))
    assert not rep["exact"] and rep["rtl_mismatches"] == 3
    assert "this is a bug" in markdown(rep, [])


@pytest.mark.parametrize("args, says", [
    (["--simulator", "modelsim"], "--simulator must be icarus or verilator"),
    (["--board", "de10"], "--board must be one of"),
    (["--parallel", "0"], "--parallel must be a positive integer"),
])
def test_bad_options_get_one_line_and_exit_2(tmp_path, args, says):
    out = tmp_path / "demo"
    p = subprocess.run([sys.executable, "-m", "demo", "--out", str(out), *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.startswith("error: ") and says in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not out.exists()


def test_the_int8_baseline_keeps_the_task_emit_and_metric(tmp_path):
    from demo import baseline
    from train.__main__ import main as train_main

    run = tmp_path / "run"
    assert train_main(["--hidden", "8", "--epochs", "1", "--threads", "1", "--no-progress",
                       "--out", str(run)]) == 0
    baseline.write(run, tmp_path / "int8")
    src, int8 = modelfile.load(run / "model.json"), modelfile.load(tmp_path / "int8" / "model.json")
    assert (int8.emit, int8.metric) == (src.emit, src.metric) == ("last", "accuracy")
    assert {m.scheme for _, m in int8.matrices()} == {"int8"}
    assert int8.meta["source"].startswith("int8 post-training quantization of ")
    info = json.loads((tmp_path / "int8" / "int8.json").read_text())
    assert 0 <= info["accuracy"] <= 1


def test_the_int8_design_is_generated_with_the_same_folding_before_its_build(tmp_path):
    """The int8 baseline goes through make verilog (with the shift-add design's lanes, columns
    and storage) and then make bitstream, which checks its design hash like any other."""
    from demo.stages import StageFailed, int8_bitstream, same_folding
    from hw.__main__ import main as hw_main
    from hw.gen.design import check_run

    run, base = tmp_path / "run", tmp_path / "int8"
    run.mkdir()
    base.mkdir()
    kw = dict(cell="gru", input_size=2, hidden_size=3, outputs=2, seed=1)
    modelfile.save(random_model(scheme="ternary", **kw), run / "model.json")
    modelfile.save(random_model(scheme="int8", **kw), base / "model.json")
    assert hw_main(["verilog", str(run / "model.json"), "--parallel", "3", "--simd", "2"]) == 0
    # a clock the PLL cannot make: refused by the build after the int8 design was generated
    with pytest.raises(StageFailed, match="PLL makes 270.000 MHz at the nearest"):
        int8_bitstream(base, ["hw", "verilog", str(base / "model.json"), *same_folding(run),
                              "--board", "icebreaker", "--out", str(base)],
                       ["hw", "bitstream", str(base), "--board", "icebreaker", "--clock-mhz",
                        "5000"])
    man = check_run(base)
    assert (man.parallel, man.simd, man.storage, man.board) == (3, 2, "memory", "icebreaker")
    assert set(man.schemes.values()) == {"int8"}
