"""train/checkpoint.py: checkpoints and --init files load without running code; --init maps a
plain torch.nn.RNN/GRU/LSTM + Linear model onto the trainer's network."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hw.errors import UserError
from hw.modelfile import Model
from hw.numerics import Formats
from train import checkpoint, data, loop
from train.__main__ import main

TINY = ["--epochs", "1", "--threads", "1", "--no-progress"]


class Payload:
    """Unpickling this runs code: it writes `marker` (what a hostile checkpoint would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


class Plain(torch.nn.Module):
    def __init__(self, cell="GRU", inputs=8, hidden=6, outputs=10, layers=1):
        super().__init__()
        self.rec = getattr(torch.nn, cell)(inputs, hidden, layers, batch_first=True)
        self.fc = torch.nn.Linear(hidden, outputs)

    def forward(self, x, lengths):
        h = self.rec(x)[0]
        return self.fc(h[torch.arange(len(x)), lengths - 1])


def _evil(tmp_path):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "evil.pt"
    torch.save({"config": {"task": "digits"}, "net": Payload(marker)}, path)
    return path, marker


def test_a_run_checkpoint_loads_with_weights_only(tmp_path):
    out = tmp_path / "r"
    assert main([*TINY, "--hidden", "4", "--ptq", "--quant", "binary", "--out", str(out)]) == 0
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["config"]["quant"] == "binary" and "float" in state["results"]


def test_a_malicious_resume_checkpoint_runs_nothing(tmp_path, capsys):
    path, marker = _evil(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    path.rename(out / "checkpoint.pt")
    assert main(["--resume", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "holds pickled objects" in err and err.count("\n") == 1
    assert not marker.exists()


def test_a_malicious_init_file_runs_nothing_unless_explicitly_allowed(tmp_path, capsys):
    path, marker = _evil(tmp_path)
    assert main([*TINY, "--init", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--init-unsafe-pickle" in err and err.count("\n") == 1
    assert not marker.exists()
    # the control: the payload is real, and the explicit flag does unpickle it
    with pytest.raises(UserError):
        checkpoint.read_init(path, allow_pickle=True)
    assert marker.read_text() == "ran"


def test_the_demo_report_reads_checkpoints_safely(tmp_path):
    path, marker = _evil(tmp_path)
    with pytest.raises(UserError, match="holds pickled objects"):
        checkpoint.load_checkpoint(path, "report")
    assert not marker.exists()


def _plain_digits(tmp_path, cell="GRU", layers=1, whole=False):
    torch.manual_seed(0)
    m = Plain(cell, layers=layers)
    path = tmp_path / f"{cell}.pt"
    torch.save(m if whole else m.state_dict(), path)
    return m, path


def test_init_ptq_starts_from_the_given_model_exactly(tmp_path, capsys):
    m, path = _plain_digits(tmp_path)
    out = tmp_path / "r"
    assert main([*TINY, "--init", str(path), "--ptq", "--quant", "ternary",
                 "--out", str(out)]) == 0
    # said once: the plain model must not have seen this run's test cases
    assert capsys.readouterr().err == (
        f"note: --init: {path} must have been trained on this run's training split only, or "
        f"its test figures read high; `python -m train.data split digits --seed 0 --out "
        f"split.npz` writes the split's indices\n")
    res = json.loads((out / "train.json").read_text())
    assert res["config"]["cell"] == "gru" and res["config"]["hidden"] == 6
    assert res["epochs"] == [] and res["ptq"] == res["qat"] == res["integer"]
    # the "float" metric is the given module's own accuracy on the same input-format inputs
    task = data.digits(0)
    inputs = loop.Inputs(task, Model("gru", 8, 6, "pwl", Formats(), [], None,
                                     task.offset, task.scale))
    x, lengths, y = inputs.batch(task.test, np.arange(len(task.test)), torch.float32)
    with torch.no_grad():
        acc = float((m(x, lengths).argmax(-1) == y).float().mean())
    assert res["float"] == pytest.approx(acc, abs=0.5 / len(y))


@pytest.mark.parametrize("cell,layers,gain", [("LSTM", 2, "none"), ("RNN", 1, "none"),
                                             ("GRU", 1, "learned")])
def test_init_then_qat_fine_tuning(tmp_path, cell, layers, gain):
    """A plain torch model starts QAT (its state dict has no row gains: they start at 0)."""
    _, path = _plain_digits(tmp_path, cell, layers)
    out = tmp_path / "r"
    assert main([*TINY, "--init", str(path), "--quant", "pow2-ternary", "--row-gain", gain,
                 "--out", str(out)]) == 0
    res = json.loads((out / "train.json").read_text())
    assert res["config"]["row_gain"] == gain
    assert res["config"]["cell"] == cell.lower() and res["config"]["layers"] == layers
    assert res["integer"] == res["qat"] and [e["phase"] for e in res["epochs"]] == ["qat"]


def test_a_whole_pickled_module_needs_the_explicit_flag(tmp_path, capsys):
    _, path = _plain_digits(tmp_path, whole=True)
    args = [*TINY, "--init", str(path), "--ptq", "--quant", "binary"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 2
    assert "save model.state_dict() instead" in capsys.readouterr().err
    assert main([*args, "--init-unsafe-pickle", "--out", str(tmp_path / "b")]) == 0


@pytest.mark.parametrize("make,message", [
    (lambda: {"fc.weight": torch.zeros(10, 6)}, "has no recurrent layer"),
    (lambda: torch.nn.GRU(8, 6).state_dict(), "has no Linear head with 6 inputs"),
    (lambda: {**torch.nn.GRU(8, 6, bidirectional=True).state_dict(), "w.weight":
              torch.zeros(10, 6), "w.bias": torch.zeros(10)}, "bidirectional or projected"),
    (lambda: {**torch.nn.GRU(8, 6, bias=False).state_dict(), "w.weight": torch.zeros(10, 6),
              "w.bias": torch.zeros(10)}, "layers need biases"),
    (lambda: [1, 2], "not a state_dict"),
])
def test_init_files_that_do_not_fit(tmp_path, make, message):
    path = tmp_path / "m.pt"
    torch.save(make(), path)
    with pytest.raises(UserError, match=message):
        checkpoint.read_init(path)


def test_init_against_the_options_and_the_task(tmp_path, capsys):
    _, path = _plain_digits(tmp_path)
    assert main([*TINY, "--init", str(path), "--hidden", "9", "--out", str(tmp_path / "a")]) == 2
    assert capsys.readouterr().err == "error: --hidden 9 differs from --init's 6\n"
    torch.save(Plain(inputs=5).state_dict(), path)
    assert main([*TINY, "--init", str(path), "--out", str(tmp_path / "b")]) == 2
    assert "has input size 5, the run 8" in capsys.readouterr().err


@pytest.mark.parametrize("value", [np.float64(0.5), np.int64(3), np.zeros(2), Path("x"),
                                   {np.int64(1): 2}])
def test_save_checkpoint_refuses_what_weights_only_cannot_read(tmp_path, value):
    state = {"config": {"task": "digits"}, "results": {"best": [1, value]}}
    try:  # the rule is torch's: weights_only refuses the value (or its key)
        torch.save(state, tmp_path / "probe.pt")
        torch.load(tmp_path / "probe.pt", weights_only=True)
        read_back = True
    except Exception:
        read_back = False
    assert not read_back
    with pytest.raises(TypeError, match=r"^state\['results'\]\['best'\]\[1\]"):
        checkpoint.save_checkpoint(tmp_path / "checkpoint.pt", state)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_save_checkpoint_writes_plain_data_that_weights_only_reads(tmp_path):
    state = {"config": {"task": "digits", "data": None}, "net": {"w": torch.ones(2)},
             "history": [{"loss": 0.5, "epoch": 1, "phase": "qat"}], "flags": (True, False)}
    checkpoint.save_checkpoint(tmp_path / "checkpoint.pt", state)
    back = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert back["history"] == state["history"] and torch.equal(back["net"]["w"], torch.ones(2))
