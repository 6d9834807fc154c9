"""shiftrnn (the Python API) drives the same stages as the commands and returns what they
wrote; the project packages as a wheel with hw, train, sim, demo and shiftrnn."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import shiftrnn
from hw.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def test_train_generate_simulate_from_python(tmp_path):
    run = tmp_path / "run"
    r = shiftrnn.train(run, hidden=4, epochs=1)
    saved = json.loads((run / "train.json").read_text())
    assert (r.qat, r.integer, r.metric) == (saved["qat"], saved["integer"], "accuracy")
    assert r.model.hidden_size == 4 and r.float_model is None
    again = shiftrnn.export(run)
    assert again.integer == r.integer
    g = shiftrnn.generate(run, parallel=3, simd=2, ports="axis")  # simulated as such below
    man = json.loads((run / "manifest.json").read_text())
    assert g.top_v.is_file() and (g.cycles_per_step, g.parallel) == (man["cycles_per_step"], 3)
    assert man["ports"] == "axis" and man["input"]["valid"] == "s_axis_tvalid"
    s = shiftrnn.simulate(run, simulator="icarus", limit=3)
    assert (s.sequences, s.mismatches) == (3, 0)
    assert s.report == json.loads((run / "sim.json").read_text())


def test_api_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown training options: hiden"):
        shiftrnn.train(tmp_path / "r", hiden=4)
    with pytest.raises(UserError, match="--quant 'tern' is not one of"):
        shiftrnn.train(tmp_path / "r", quant="tern")
    with pytest.raises(UserError, match="unknown board 'de10'"):
        shiftrnn.build(tmp_path / "r", board="de10")
    assert not (tmp_path / "r").exists()


def test_the_wheel_holds_the_packages_and_not_the_tests(tmp_path):
    src = tmp_path / "src"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "__pycache__", "*.egg-info", "sim_build"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                        "--no-build-isolation", "-q", "-w", str(tmp_path), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("shiftrnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("shiftrnn-")}
    assert tops == {"hw", "train", "sim", "demo", "explore", "shiftrnn"}
    assert "hw/board/top.py" in names and "hw/gen/engine.py" in names
    assert "shiftrnn/api.py" in names and "train/checkpoint.py" in names
    assert "explore/__main__.py" in names and not any(n.startswith("bench/") for n in names)
