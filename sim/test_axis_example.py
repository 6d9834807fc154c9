"""examples/axis_wrapper.v (AXI-Stream-style names around top.v, docs/boards.md): the payload
layout it assumes is the manifest's, and Verilator's width lint finds no mismatch with the
widths taken from the manifest (and does find one with a wrong width)."""

import json
import os
import subprocess
from pathlib import Path

from hw.modelfile import save
from hw.random_model import random_model
from sim.runner import check_simulator
from sim.stimulus import generate

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ROOT / "examples" / "axis_wrapper.v"


def _lint(run: Path, in_w: int, out_w: int) -> list[str]:
    check_simulator("verilator")  # puts the venv's Verilator on PATH
    r = subprocess.run(["verilator", "--lint-only", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                        "-Wno-CASEINCOMPLETE", "-Wwarn-WIDTHEXPAND", "-Wwarn-WIDTHTRUNC",
                        "--top-module", "shiftrnn_axis", f"-GIN_DATA_W={in_w}",
                        f"-GOUT_W={out_w}", str(WRAPPER), str(run / "top.v")],
                       cwd=run, capture_output=True, text=True, timeout=300, env=os.environ)
    assert r.returncode == 0, r.stderr[-2000:]
    return [ln for ln in r.stderr.splitlines() if "%Warning" in ln and WRAPPER.name in ln]


def test_the_axis_wrapper_fits_the_generated_core(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    save(random_model(cell="lstm", input_size=3, hidden_size=4, outputs=5, seed=2),
         run / "model.json")
    generate(None, run, 4)
    man = json.loads((run / "manifest.json").read_text())
    i, o = man["input"], man["output"]
    data_w = i["fields"]["data"]["count"] * i["fields"]["data"]["width"]
    assert (i["fields"]["data"]["offset"], i["fields"]["first"]["offset"],
            i["fields"]["last"]["offset"], i["payload_width"]) == (0, data_w, data_w + 1,
                                                                   data_w + 2)
    assert o["fields"]["last"]["offset"] == o["payload_width"] - 1
    assert (man["clock"], man["reset"], man["top"]) == ("clk", "rst", "top")
    assert _lint(run, data_w, o["payload_width"]) == []
    assert any("i__payload" in w for w in _lint(run, data_w - 1, o["payload_width"]))
