"""shiftrnn (the Python API) is what the commands call, with typed options and results: every
line of the README's example (a real iCEBreaker bitstream included) and examples/pipeline.py
run here; the project packages as a wheel with hw, train, sim, demo and shiftrnn."""

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import shiftrnn
from hw.errors import UserError
from hw.modelfile import save
from hw.random_model import random_model

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> list[str]:
    """The code lines of README.md's "From Python" example."""
    text = (ROOT / "README.md").read_text()
    block = text.split("### From Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_every_line_of_the_readme_python_example(tmp_path, capsys):
    """README.md's example, line by line, on a small model: train, generate, simulate, build
    a real iCEBreaker bitstream (one build: at the oscillator's clock; `--clock-mhz auto`'s
    further builds are tested with fakes in test_board_build.py) and host (no board here: the
    port cannot open, and says so in one line)."""
    calls = [re.search(r"shiftrnn\.(\w+)\(", line) for line in readme_example()]
    assert [c.group(1) for c in calls if c] == ["train", "generate", "simulate", "build", "host",
                                                "load"]
    r = shiftrnn.train(tmp_path / "nb", task="digits", hidden=4, quant="ternary", epochs=1)
    assert (r.qat, r.integer) == tuple(json.loads((r.run / "train.json").read_text())[k]
                                       for k in ("qat", "integer"))
    g = shiftrnn.generate(r.run)
    man = json.loads((r.run / "manifest.json").read_text())
    assert (g.top_v, g.cycles_per_step, g.manifest.as_dict()) == (
        r.run / "top.v", man["cycles_per_step"], man)
    assert man["board"] == "icebreaker" and man["options"]["parallel"] == "auto"
    s = shiftrnn.simulate(r.run, simulator="icarus", limit=3)
    assert (s.sequences, s.mismatches, s.design_hash) == (3, 0, man["design_hash"])
    b = shiftrnn.build(r.run, board="icebreaker", clock_mhz=12)
    saved = json.loads((r.run / "bitstream.json").read_text())
    assert b == shiftrnn.BuildResult(**saved) and b.meets_clock
    assert (b.board, b.clock_mhz, b.parallel, b.simd) == ("icebreaker", 12.0, man["parallel"],
                                                          man["simd"])
    assert b.design_hash == man["design_hash"] and b.sim["sequences"] == 3  # simulated
    assert Path(b.bitstream).stat().st_size == 104090  # every UP5K bitstream has this size
    port = tmp_path / "ttyUSB1"
    with pytest.raises(UserError, match=f"cannot open serial port {port}"):
        shiftrnn.host(r.run, str(port))
    with pytest.raises(UserError, match=r"design is fixed \(its weights are in its "
                                         r"bitstream\)"):  # before the port is opened
        shiftrnn.load(r.run, str(port))
    capsys.readouterr()


def test_options_as_dataclasses_or_keywords(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    save(random_model(cell="gru", input_size=2, hidden_size=3, seed=0), run / "model.json")
    g = shiftrnn.generate(run, shiftrnn.GenerateOptions(parallel=3, simd=2, ports="axis"))
    assert (g.parallel, g.manifest.simd, g.manifest.ports) == (3, 2, "axis")
    assert g.manifest.options == shiftrnn.GenerateOptions(3, 2, "icebreaker", "memory", "auto",
                                                         None, "axis")
    with pytest.raises(UserError, match="unknown generation options: lanes"):
        shiftrnn.generate(run, lanes=3)
    with pytest.raises(UserError, match="as GenerateOptions or as keywords, not both"):
        shiftrnn.generate(run, shiftrnn.GenerateOptions(), parallel=3)
    with pytest.raises(UserError, match="unknown simulation options: sim"):
        shiftrnn.simulate(run, sim="icarus")
    with pytest.raises(UserError, match="--clock-mhz must be a positive number"):
        shiftrnn.build(run, clock_mhz=-3)


def test_examples_pipeline_runs(tmp_path):
    """examples/pipeline.py end to end on a small model (its build is the test above's)."""
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "pipeline.py"), "--out",
                        str(tmp_path / "ex"), "--hidden", "4", "--epochs", "1", "--limit", "3",
                        "--simulator", "icarus"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "simulated 3 sequences: 0 mismatching beats" in r.stdout
    assert (tmp_path / "ex" / "sim.json").is_file()


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
