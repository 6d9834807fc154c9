"""demo/: stage bookkeeping (done, order, settings), the side-by-side figures and the
equal-accuracy row (explore.iso's), the baselines that do not fit, bad options."""

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from demo.__main__ import check_settings
from demo.compare import equal_accuracy, record
from demo.report import gather, markdown
from demo.runner import needs, run_plan
from demo.stages import Settings, Stage, StageFailed, baseline_hardware, stages
from hw import metrics, modelfile
from hw.check import weight_stats
from hw.gen.cli import generate
from hw.gen.manifest import save_manifest
from hw.random_model import random_model

ROOT = Path(__file__).resolve().parents[1]
SCHEMES = ("ternary", "int8", "float")


def _plan(out):
    return stages(Settings(), out, lambda log: None)


def test_a_stage_is_done_when_its_outputs_are_newer_than_its_inputs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    st = Stage("x", "x", [a], [b], func=lambda log: None)
    a.write_text("in")
    assert not st.done()  # no output yet
    b.write_text("out")
    os.utime(a, (1000, 1000))
    assert st.done()
    os.utime(a, (os.path.getmtime(b) + 10,) * 2)  # the input changed after the output
    assert not st.done()


def test_the_plan_trains_three_models_and_builds_each(tmp_path):
    plan = _plan(tmp_path)
    names = [st.name for st in plan]
    assert names == ["train-ternary", "train-int8", "verilog-ternary", "bitstream-ternary",
                     "hardware-int8", "train-float", "hardware-float", "sim-ternary", "report"]
    deps = needs(plan)
    assert deps["sim-ternary"] == {"train-ternary", "verilog-ternary"}
    assert deps["bitstream-ternary"] == {"verilog-ternary"}
    assert deps["hardware-float"] == {"train-float"}
    assert deps["report"] == set(names[:-1])
    # the same training for all three: only --quant and --out differ
    argv = {st.name: st.argv for st in plan if st.name.startswith("train-")}
    strip = [[a for a in v if a not in SCHEMES and not a.startswith(str(tmp_path))]
             for v in argv.values()]
    assert strip[0] == strip[1] == strip[2]
    assert "--baseline" not in argv["train-ternary"]
    by = {st.name: st for st in plan}
    assert [c.split()[2:4] for c in by["hardware-int8"].commands()] == [
        ["hw", "verilog"], ["hw", "bitstream"]]
    assert by["report"].commands() == []


def test_stages_run_after_what_they_read_two_at_a_time(tmp_path):
    """run_plan on in-process stages: each starts after the stages making its inputs, never
    more than `jobs` at once, a stage done before is kept, and times.json has the rest."""
    import threading
    import time

    lock, log, now = threading.Lock(), [], [0]

    def work(name, outputs):
        def f(_log):
            with lock:
                now[0] += 1
                log.append(("start", name, now[0]))
            time.sleep(0.05)
            for p in outputs:
                p.write_text(name)
            with lock:
                log.append(("end", name, now[0]))
                now[0] -= 1
        return f

    p = {k: tmp_path / k for k in "abcde"}
    p["a"].write_text("kept")
    plan = [Stage("a", "a", [], [p["a"]], func=work("a", [p["a"]])),
            Stage("b", "b", [p["a"]], [p["b"]], func=work("b", [p["b"]])),
            Stage("c", "c", [p["a"]], [p["c"]], func=work("c", [p["c"]])),
            Stage("d", "d", [], [p["d"]], func=work("d", [p["d"]])),
            Stage("e", "e", [p["b"], p["c"]], [p["e"]], func=work("e", [p["e"]]))]
    times = run_plan(plan, tmp_path, jobs=2)
    assert set(times) == {"b", "c", "d", "e"}  # a was done before
    at = {(k, n): i for i, (k, n, _) in enumerate(log)}
    assert at["start", "e"] > max(at["end", "b"], at["end", "c"])
    assert ("start", "a") not in at
    assert max(c for k, _, c in log if k == "start") == 2  # two at once, never three
    assert json.loads((tmp_path / "times.json").read_text()).keys() == times.keys()


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


BIT = {"board": "icebreaker", "lut": 300, "ff": 100, "bram": 2, "dsp": 2, "fmax_mhz": 30.0,
       "clock_mhz": 24.0, "lut_available": 5280, "bram_available": 30, "dsp_available": 8,
       "dsp_inference": True, "bitstream": "b.bin", "design_hash": "ab" * 32,
       "cycles_per_step": 10, "us_per_step": 10 / 24, "parallel": 3, "simd": 2}


def _fake_demo(out: Path, mismatches: int, acc: dict) -> None:
    """What the stages write, for a ternary, int8 and float model; the float one did not fit."""
    kw = dict(cell="gru", input_size=4, hidden_size=8, outputs=3, seed=1)
    for q, scheme in zip(SCHEMES, ("ternary", "int8", "int16"), strict=True):
        run = out / q
        run.mkdir(parents=True)
        modelfile.save(random_model(scheme=scheme, **kw), run / "model.json")
        _write(run / "train.json", {"metric": "accuracy", "qat": acc[q], "integer": acc[q],
                                    "exact": True, "seconds": 3.0,
                                    "selected_epoch": {"qat": 7}})
    run = out / "ternary"
    lengths = np.array([5, 5, 3, 3])
    metrics.save_testset(metrics.TestSet(np.zeros((4, 5, 4), np.int64), lengths,
                                         np.array([0, 1, 2, 1])), run / "testset.npz")
    _write(run / "sim.json", {"rtl_metric": acc["ternary"], "mismatches": mismatches,
                              "simulator": "x", "sequences": 4, "cycles_per_step": 10.0,
                              "latency": 12, "cycles": 200, "rtl_predictions": [0, 1, 2, 2],
                              "design_hash": "ab" * 32})
    save_manifest(generate(modelfile.load(run / "model.json"), 3)[1], run / "manifest.json")
    _write(run / "bitstream.json", BIT)
    # int8: more LUTs, all 8 DSPs, 4 times the cycles at a lower clock
    _write(out / "int8" / "bitstream.json", {**BIT, "lut": 400, "dsp": 8, "bram": 4,
                                             "clock_mhz": 12.0, "us_per_step": 40 / 12,
                                             "cycles_per_step": 40})
    _write(out / "float" / "bitstream.json",
           {"fits": False, "error": "no folding of this gru 8 fits the iCE40UP5K: ..."})


def test_report_figures_come_from_the_stage_outputs(tmp_path):
    _fake_demo(tmp_path, 0, {"ternary": 0.75, "int8": 0.5, "float": 0.75})
    rep = gather(tmp_path, asdict(Settings()), SCHEMES)
    t, i, f = (rep["models"][q] for q in SCHEMES)
    assert (t["accuracy"], i["accuracy"], f["accuracy"]) == (0.75, 0.5, 0.75)
    assert f["exported_as"] == ["int16"] and not f["fits"] and "no folding" in f["error"]
    assert t["steps_per_s"] == pytest.approx(2.4e6) and i["steps_per_s"] == pytest.approx(3e5)
    w = weight_stats(modelfile.load(tmp_path / "ternary" / "model.json"))
    assert w.count == 3 * 8 * (4 + 8) + 3 * 8 and w.bits == 2 * w.count
    assert t["weights"] == {"count": w.count, "nonzero": w.nonzero, "bits": w.bits}
    assert i["weights"]["bits"] == 8 * w.count and f["weights"]["bits"] == 16 * w.count
    # equal accuracy: the level both reach is int8's 0.5
    eq = rep["equal_accuracy"]
    assert eq["level"] == 0.5
    assert eq["steps"]["ratio"] == pytest.approx(8.0) and eq["luts"]["ratio"] == 0.75
    assert eq["brams"] == {"shift": 2, "baseline": 4, "ratio": 0.5}
    assert rep["float_gap_points"] == 0.0
    # mean length 4: 3 steps of 10 cycles, then 12 cycles of latency, at 24 MHz
    assert rep["rtl"]["latency_us_per_sequence"] == pytest.approx(42 / 24)
    assert rep["exact"] and rep["simulated_design_built"]
    md = markdown(rep, ["cmd"])
    assert "agree exactly" in md and "design hash `abababababab`" in md
    assert (f"The float model ({16 * w.count:,} weight bits as int16) is not built for the "
            f"icebreaker: no folding") in md
    assert "| time steps per second | 2,400,000 | 300,000 | 8.00x |" in md
    assert "0.00 points above the float model" in md


def test_a_model_trailing_float_and_a_mismatch_are_said_plainly(tmp_path):
    _fake_demo(tmp_path, 3, {"ternary": 0.5, "int8": 0.75, "float": 0.75})
    rep = gather(tmp_path, asdict(Settings()), SCHEMES)
    assert not rep["exact"] and rep["rtl"]["mismatches"] == 3
    assert rep["float_gap_points"] == -25.0
    assert rep["equal_accuracy"]["level"] == 0.5  # ternary's: int8 reaches it too
    md = markdown(rep, [])
    assert "this is a bug" in md
    assert "trails the float model of the same size by 25.00 points" in md


def test_equal_accuracy_is_explore_iso_on_the_demo_records():
    """Without an int8 bitstream there is no row; with it, the row is explore.iso's cell."""
    s = asdict(Settings())
    base = {"metric": "accuracy", "weights": {"bits": 10}, "fits": True, "lut": 10, "bram": 1,
            "steps_per_s": 100.0}
    models = {"ternary": {**base, "scheme": "ternary", "accuracy": 0.9},
              "int8": {**base, "scheme": "int8", "accuracy": 0.95, "lut": 20}}
    assert record(models["int8"], s)["config"]["quant"] == "int8"
    eq = equal_accuracy(models, s, "ternary")
    assert (eq["level"], eq["luts"]["ratio"], eq["steps"]["ratio"]) == (0.9, 0.5, 1.0)
    models["int8"] = {**models["int8"], "fits": False}
    assert equal_accuracy(models, s, "ternary") is None


@pytest.mark.parametrize("args, says", [
    (["--simulator", "modelsim"], "--simulator must be icarus or verilator"),
    (["--board", "de10"], "--board must be one of"),
    (["--parallel", "0"], "--parallel must be a positive integer"),
    (["--quant", "int8"], "--quant must be a shift-add scheme"),
    (["--jobs", "0"], "--jobs must be a positive integer"),
])
def test_bad_options_get_one_line_and_exit_2(tmp_path, args, says):
    out = tmp_path / "demo"
    p = subprocess.run([sys.executable, "-m", "demo", "--out", str(out), *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.startswith("error: ") and says in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not out.exists()


def test_a_baseline_that_does_not_fit_is_recorded_and_another_failure_stops(tmp_path):
    """baseline_hardware: make verilog with --parallel auto, then make bitstream; no folding
    that fits (an int16 GRU 128, a float model's export: the GRU 32 fits now that the SPRAM
    holds codes) is recorded with its reason, a
    clock the PLL cannot make stops the demo."""
    big, small = tmp_path / "big", tmp_path / "small"
    big.mkdir()
    small.mkdir()
    modelfile.save(random_model(cell="gru", scheme="int16", input_size=8, hidden_size=128,
                                outputs=10, seed=1), big / "model.json")
    modelfile.save(random_model(cell="gru", scheme="int8", input_size=2, hidden_size=3,
                                outputs=2, seed=1), small / "model.json")

    def argv(run, clock):
        return (["hw", "verilog", str(run / "model.json"), "--parallel", "auto", "--board",
                 "icebreaker", "--out", str(run)],
                ["hw", "bitstream", str(run), "--board", "icebreaker", "--clock-mhz", clock])

    baseline_hardware(big, *argv(big, "auto"), None, "hardware-float")
    bit = json.loads((big / "bitstream.json").read_text())
    assert bit["fits"] is False
    assert bit["error"].startswith("no folding of this gru 128 fits the iCE40UP5K: the smallest")
    assert "block RAMs of" in bit["error"]
    with pytest.raises(StageFailed, match="PLL makes 270.000 MHz at the nearest"):
        baseline_hardware(small, *argv(small, "5000"), tmp_path / "log", "hardware-int8")
    assert not (small / "bitstream.json").exists() and (small / "manifest.json").is_file()


def test_the_terminal_shows_every_tenth_epoch_and_the_log_all():
    from demo.stages import _noise

    shown = [n for n in range(1, 41) if not _noise(f"[train-int8] qat epoch {n}/40: loss 1")]
    assert shown == [1, 10, 20, 30, 40]
    assert not _noise("[sim-ternary] verilator: 359 sequences, 0 mismatches")


def test_a_design_with_weights_in_spram_says_they_are_loaded_after_power_up(tmp_path):
    """A baseline whose codes went to the iCE40UP5K's SPRAM is a reloadable design that holds
    no weights at power-up (docs/hardware.md): the side-by-side table says so."""
    _fake_demo(tmp_path, 0, {"ternary": 0.75, "int8": 0.5, "float": 0.75})
    _write(tmp_path / "float" / "bitstream.json", {**BIT, "huge": 3, "shape": "731c2a7b"})
    _write(tmp_path / "int8" / "bitstream.json", {**BIT, "shape": "0badf00d"})
    md = markdown(gather(tmp_path, asdict(Settings()), SCHEMES), ["cmd"])
    row = next(ln for ln in md.splitlines() if ln.startswith("| weights at power-up |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert cells == ["none: loaded over the UART (`hw load`)", "in the bitstream",
                     "in the bitstream; reloadable"]
    assert "| SPRAM blocks | 3 | - | - |" in md
