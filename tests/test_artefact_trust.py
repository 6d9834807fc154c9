"""Issue 33's probes on the generator, simulation and bitstream stages, one test per row of
its table: the reproduction as the input, the outcome asserted (one line and exit 2 where
refused, a printed note where something else is built; never a traceback). Each runs the
command's own entry point; no tool is run (a refusal comes before synthesis)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hw import fileio, metrics
from hw.__main__ import main as hw_main
from hw.board import build as build_mod
from hw.modelfile import save
from hw.random_model import random_inputs, random_model
from sim.__main__ import main as sim_main

ROOT = Path(__file__).resolve().parents[1]


def run_folder(tmp_path: Path, cell: str = "gru", hidden: int = 3) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    model = random_model(cell=cell, input_size=2, hidden_size=hidden, outputs=2, seed=1)
    save(model, run / "model.json")
    x = random_inputs(np.random.default_rng(0), model, (2, 3))
    metrics.save_testset(metrics.TestSet(x, np.array([3, 2]), np.array([0, 1])),
                         run / "testset.npz")
    return run


def one_line(capsys, *words) -> None:
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in out + err
    for w in words:
        assert w in err, err


@pytest.fixture
def no_tools(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("synthesis started")

    monkeypatch.setattr(build_mod, "_run_tools", refuse)


def test_lanes_set_to_6_in_the_manifest_never_reach_synthesis(tmp_path, capsys, no_tools):
    """Row 1: `parallel`, `lanes`, `resources.lanes` set to 6 in RUN/manifest.json, then
    make bitstream (and make sim)."""
    run = run_folder(tmp_path)
    assert hw_main(["verilog", str(run / "model.json"), "--parallel", "3"]) == 0
    man = json.loads((run / "manifest.json").read_text())
    man["parallel"] = man["lanes"] = man["resources"]["lanes"] = 6
    (run / "manifest.json").write_text(json.dumps(man, indent=1))
    capsys.readouterr()
    assert hw_main(["bitstream", str(run), "--board", "icebreaker"]) == 2
    one_line(capsys, "manifest.json was changed after make verilog wrote it")
    assert sim_main([str(run)]) == 2
    one_line(capsys, "manifest.json was changed after make verilog wrote it")
    assert not list(run.glob("build-*")) and not (run / "sim_build").exists()


def test_generated_for_ulx3s_refused_for_the_icebreaker_before_synthesis(tmp_path, capsys,
                                                                          no_tools):
    """Row 2: make verilog RUN=r BOARD=ulx3s && make bitstream RUN=r (BOARD=icebreaker)."""
    run = run_folder(tmp_path)
    assert hw_main(["verilog", str(run / "model.json"), "--board", "ulx3s"]) == 0
    capsys.readouterr()
    assert hw_main(["bitstream", str(run), "--board", "icebreaker"]) == 2
    one_line(capsys)
    # the whole line, as the issue asks for it
    assert hw_main(["bitstream", str(run), "--board", "icebreaker"]) == 2
    assert capsys.readouterr().err == (
        f"error: {run / 'manifest.json'} was generated for ulx3s, building for icebreaker: "
        f"run make verilog RUN={run} BOARD=icebreaker\n")
    assert not list(run.glob("build-*"))


def test_a_read_only_output_folder_is_one_line_before_any_work(tmp_path, capsys, monkeypatch,
                                                              no_tools):
    """Row 3: every hw stage and sim with its output folder on a read-only file system."""
    run = run_folder(tmp_path)
    # a real file system that refuses (/sys takes no new folders, even for root)
    assert hw_main(["verilog", str(run / "model.json"), "--out", "/sys/shiftrnn-out"]) == 2
    one_line(capsys, "cannot write to output folder /sys/shiftrnn-out")
    assert hw_main(["verilog", str(run / "model.json"), "--parallel", "3"]) == 0
    capsys.readouterr()
    real = fileio.tempfile.mkstemp

    def read_only(*a, dir=None, **k):  # the run folder alone is read-only
        if dir is not None and Path(dir) == run:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(fileio.tempfile, "mkstemp", read_only)
    assert hw_main(["verilog", str(run / "model.json"), "--parallel", "3"]) == 2
    one_line(capsys, f"cannot write to output folder {run}: Read-only file system")
    assert hw_main(["bitstream", str(run), "--board", "icebreaker"]) == 2
    one_line(capsys, f"cannot write to run folder {run}: Read-only file system")
    assert sim_main([str(run), "--simulator", "icarus"]) == 2
    one_line(capsys, f"cannot write to run folder {run}: Read-only file system")
    assert not (run / "sim_build").exists()


def test_options_are_refused_or_noted_never_changed_silently(tmp_path, capsys, no_tools):
    """Row 4: hw verilog --simd 1024, --parallel unrolled --simd 4, --simd 8 on a small LSTM
    (builds S=4), hw bitstream --clock-mhz 5000 (built at 270 MHz)."""
    run = run_folder(tmp_path, cell="lstm")
    model = str(run / "model.json")
    assert hw_main(["verilog", model, "--parallel", "4", "--simd", "8"]) == 0
    out = capsys.readouterr().out
    assert "note: --simd 8 is more columns than this model's widest pass needs (a power of two " \
           "covering it): built simd 4" in out
    assert json.loads((run / "manifest.json").read_text())["simd"] == 4
    assert hw_main(["verilog", model, "--parallel", "4", "--simd", "1024"]) == 0
    assert "note: --simd 1024 is more columns" in capsys.readouterr().out
    assert hw_main(["verilog", model, "--parallel", "400"]) == 0
    assert "note: --parallel 400 is more lanes than this model's tallest pass has rows: " \
           "built 12 lanes" in capsys.readouterr().out
    assert hw_main(["verilog", model, "--parallel", "unrolled", "--simd", "4"]) == 2
    one_line(capsys, "--simd is for the time-multiplexed engine")
    assert hw_main(["verilog", model, "--parallel", "unrolled", "--storage", "memory"]) == 2
    one_line(capsys, "--storage memory is for the time-multiplexed engine")
    assert hw_main(["verilog", model, "--parallel", "unrolled", "--order", "rows"]) == 2
    one_line(capsys, "--order rows is for the time-multiplexed engine")
    assert hw_main(["verilog", model, "--simd", "4"]) == 2
    one_line(capsys, "--simd is chosen by --parallel auto")
    assert hw_main(["bitstream", str(run), "--board", "icebreaker", "--clock-mhz", "5000"]) == 2
    one_line(capsys, "--clock-mhz 5000: the icebreaker's PLL makes 270.000 MHz at the nearest")


def test_a_clock_the_pll_makes_only_nearly_is_built_with_a_note(tmp_path, capsys, monkeypatch):
    """Row 4 (continued): a clock within 1% is the PLL's, and the output says so."""
    run = run_folder(tmp_path)
    assert hw_main(["verilog", str(run / "model.json"), "--parallel", "3"]) == 0
    clocks = []

    def fake_build(model, *, board, clock_hz, out_dir, **kw):
        clocks.append(clock_hz)
        out_dir.mkdir(parents=True)
        (out_dir / "top.bin").write_bytes(b"bits")
        return build_mod.BuildResult(board.name, 1, 1, 1, 0, fmax_mhz=50.0,
                                     clock_mhz=clock_hz / 1e6,
                                     bitstream=str(out_dir / "top.bin"), build_seconds=1.0)

    monkeypatch.setattr(build_mod, "build", fake_build)
    capsys.readouterr()
    assert hw_main(["bitstream", str(run), "--board", "icebreaker", "--clock-mhz", "37"]) == 0
    assert clocks == [36.75e6]
    assert "note: the icebreaker's PLL makes 36.750 MHz, the nearest to --clock-mhz 37: " \
           "building at that" in capsys.readouterr().out


def test_one_line_option_errors_and_make_verilog_takes_every_board(tmp_path, capsys,
                                                                  no_tools):
    """Row 8 (the hw side): a bad option value is one line (usage on --help only), and
    make verilog BOARD=ice40_hx8k_b_evn is accepted as make bitstream accepts it."""
    run = run_folder(tmp_path)
    model = str(run / "model.json")
    with pytest.raises(SystemExit) as e:
        hw_main(["verilog", model, "--parallel", "3", "--simd", "3.5"])
    assert e.value.code == 2
    one_line(capsys, "argument --simd: invalid int value: '3.5'")
    dry = subprocess.run(["make", "-n", "verilog", f"RUN={run}", "BOARD=ice40_hx8k_b_evn",
                          "PARALLEL=3", "SIMD=1"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0 and "--board ice40_hx8k_b_evn" in dry.stdout, dry.stderr
    assert hw_main(["verilog", model, "--board", "ice40_hx8k_b_evn", "--parallel", "3",
                    "--simd", "1"]) == 0
    man = json.loads((run / "manifest.json").read_text())
    assert man["board"] == "ice40_hx8k_b_evn" and "roofline" not in man  # no calibration
    capsys.readouterr()
    # --parallel auto (make verilog's default) needs calibration figures: refused, not guessed
    assert hw_main(["verilog", model, "--board", "ice40_hx8k_b_evn"]) == 2
    one_line(capsys, "--parallel auto needs a board's calibration figures and the "
                     "ice40_hx8k_b_evn has none (measured: icebreaker, ulx3s); give "
                     "--parallel P and --simd S")
    assert hw_main(["verilog", model, "--board", "nosuchboard"]) == 2
    one_line(capsys, "unknown board 'nosuchboard'")
