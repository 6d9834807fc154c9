"""hw/gen/design.py: make verilog seals model.json, top.v and the manifest with the design
hash; make sim and make bitstream check each link before any work, and make bitstream
records the simulation it found of that very design (fake builds: no tools run here)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from hw import metrics
from hw.__main__ import main as hw_main
from hw.board import build as build_mod
from hw.board.build import BuildResult
from hw.gen.design import check_run, design_hash
from hw.gen.manifest import load_manifest
from hw.gen.options import GenerateOptions
from hw.modelfile import save
from hw.random_model import random_inputs, random_model
from sim.__main__ import main as sim_main


def make_run(tmp_path: Path, *verilog: str) -> Path:
    """A run folder: a small model, a test set of its inputs, and make verilog's output."""
    run = tmp_path / "run"
    run.mkdir()
    model = random_model(cell="gru", input_size=2, hidden_size=3, outputs=2, seed=4)
    save(model, run / "model.json")
    x = random_inputs(np.random.default_rng(0), model, (3, 4))
    metrics.save_testset(metrics.TestSet(x, np.array([4, 2, 3]), np.array([0, 1, 0])),
                         run / "testset.npz")
    assert hw_main(["verilog", str(run / "model.json"), *verilog]) == 0
    return run


def fake_tools(monkeypatch, calls: list) -> None:
    """hw.board.build.build as a build that meets its clock and writes a bitstream file."""
    def fake_build(model, *, board, clock_hz, out_dir, **kw):
        calls.append(kw)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "top.bin").write_bytes(b"bits")
        return BuildResult(board.name, 100, 50, 1, 0, fmax_mhz=40.0, clock_mhz=clock_hz / 1e6,
                           bitstream=str(out_dir / "top.bin"), build_seconds=1.0,
                           parallel=kw["parallel"], simd=kw["simd"])

    monkeypatch.setattr(build_mod, "build", fake_build)


def test_make_verilog_seals_what_it_wrote(tmp_path, capsys):
    run = make_run(tmp_path, "--parallel", "3", "--simd", "2")
    man = load_manifest(run / "manifest.json")
    sha = {f: hashlib.sha256((run / f).read_bytes()).hexdigest() for f in ("model.json", "top.v")}
    assert (man.model_sha256, man.top_v_sha256) == (sha["model.json"], sha["top.v"])
    raw = json.loads((run / "manifest.json").read_text())
    del raw["design_hash"]
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"))
    assert man.design_hash == hashlib.sha256(text.encode()).hexdigest() == design_hash(man)
    assert man.board == "icebreaker"
    assert man.options == GenerateOptions(3, 2, "icebreaker", "memory", "auto", None, "native")
    assert check_run(run) == man
    capsys.readouterr()


BROKEN = {
    # what is changed after make verilog, and the words of the one-line refusal
    "manifest": ("was changed after make verilog wrote it",
                 lambda run: _edit(run, lambda m: m["resources"].update(adders=1))),
    "top.v": ("top.v is not the file make verilog wrote",
              lambda run: (run / "top.v").write_text((run / "top.v").read_text() + "\n")),
    "model.json": ("model.json is not the model",
                   lambda run: save(random_model(cell="gru", input_size=2, hidden_size=3,
                                                 outputs=2, seed=5), run / "model.json")),
    "no hash": ("holds no design hash",
                lambda run: _edit(run, lambda m: m.pop("design_hash"))),
    "no manifest": ("manifest.json does not exist",
                    lambda run: (run / "manifest.json").unlink()),
    "no top.v": ("top.v does not exist", lambda run: (run / "top.v").unlink()),
}


def _edit(run: Path, change) -> None:
    man = json.loads((run / "manifest.json").read_text())
    change(man)
    (run / "manifest.json").write_text(json.dumps(man, indent=1))


@pytest.mark.parametrize("link", sorted(BROKEN))
def test_each_broken_link_stops_sim_and_bitstream_before_any_work(tmp_path, capsys,
                                                                  monkeypatch, link):
    run = make_run(tmp_path, "--parallel", "3")
    words, breaks = BROKEN[link]
    breaks(run)
    capsys.readouterr()
    calls = []
    fake_tools(monkeypatch, calls)
    assert hw_main(["bitstream", str(run), "--board", "icebreaker", "--clock-mhz", "12"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err, err
    assert sim_main([str(run), "--simulator", "icarus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert calls == [] and not (run / "sim_build").exists()
    assert not (run / "bitstream.json").exists() and not (run / "sim.json").exists()


def _sim_json(run: Path, **fields) -> None:
    (run / "sim.json").write_text(json.dumps({"simulator": "icarus", "sequences": 3,
                                              "steps": 9, "mismatches": 0, "testset": "t",
                                              "limit": None, **fields}))


@pytest.mark.parametrize("found", ["none", "another design", "this design", "failed"])
def test_bitstream_records_the_simulation_of_this_design(tmp_path, capsys, monkeypatch, found):
    run = make_run(tmp_path, "--parallel", "3")
    this = load_manifest(run / "manifest.json").design_hash
    if found == "another design":
        _sim_json(run, design_hash="0" * 64)
    elif found == "this design":
        _sim_json(run, design_hash=this)
    elif found == "failed":
        _sim_json(run, design_hash=this, mismatches=2, first_mismatch="sequence 0, step 1")
    capsys.readouterr()
    calls = []
    fake_tools(monkeypatch, calls)
    rc = hw_main(["bitstream", str(run), "--board", "icebreaker", "--clock-mhz", "12"])
    out, err = capsys.readouterr()
    if found == "failed":
        assert rc == 2 and calls == [] and err.count("\n") == 1
        assert "make sim found 2 output beats of this design that differ" in err
        return
    assert rc == 0 and len(calls) == 1
    rec = json.loads((run / "bitstream.json").read_text())
    assert rec["design_hash"] == this
    if found == "this design":
        assert rec["sim"]["design_hash"] == this and rec["sim"]["sequences"] == 3
        assert "note:" not in out and "(not simulated)" not in out
    else:
        assert rec["sim"] is None and "(not simulated)" in out
        assert ("checked another design" if found == "another design" else "no ") in out


def test_bitstream_builds_the_manifests_folding_and_nothing_else(tmp_path, capsys,
                                                                 monkeypatch):
    run = make_run(tmp_path, "--parallel", "unrolled", "--cell-units", "1")
    calls = []
    fake_tools(monkeypatch, calls)
    assert hw_main(["bitstream", str(run), "--board", "icebreaker", "--clock-mhz", "12"]) == 0
    (kw,) = calls
    assert (kw["parallel"], kw["storage"], kw["cell_units"]) == ("unrolled", "registers", 1)
    capsys.readouterr()
