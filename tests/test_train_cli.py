"""`python -m train` and `python -m train.report` on bad input and signals: one line, exit 2
(130 when stopped), no traceback, nothing half-written and no empty run folder left behind."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from train import loop, report
from train.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "4", "--epochs", "2", "--threads", "1", "--no-progress"]


def test_out_naming_a_file_is_refused_and_the_file_kept(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    assert main([*TINY, "--out", str(f)]) == 2
    assert capsys.readouterr().err == f"error: --out {f} is a file; the run needs a folder\n"
    assert f.read_text() == "mine"


def test_a_failed_data_load_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "deep" / "run"
    assert main([*TINY, "--task", "vowels", "--data", str(tmp_path / "none"),
                 "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()
    existing = tmp_path / "mine"  # a folder the user made is kept, empty or not
    existing.mkdir()
    assert main([*TINY, "--task", "fsdd", "--data", str(tmp_path), "--out", str(existing)]) == 2
    assert existing.is_dir()


def _sigterm_at(monkeypatch, epoch):
    real = loop.train_epoch

    def epoch_then_sigterm(net, opt, cfg, inputs, pi, phase, ep, *rest):
        if ep == epoch:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(net, opt, cfg, inputs, pi, phase, ep, *rest)

    monkeypatch.setattr(loop, "train_epoch", epoch_then_sigterm)


def test_sigterm_before_the_first_checkpoint_leaves_no_folder(tmp_path, monkeypatch, capsys):
    _sigterm_at(monkeypatch, 0)
    out = tmp_path / "run"
    assert main([*TINY, "--out", str(out)]) == 130
    assert capsys.readouterr().err == "interrupted before the first checkpoint\n"
    assert not out.exists()
    assert signal.getsignal(signal.SIGTERM) is not None  # the previous handler is back


def test_sigterm_later_stops_like_ctrl_c_and_resumes(tmp_path, monkeypatch, capsys):
    _sigterm_at(monkeypatch, 1)
    out = tmp_path / "run"
    assert main([*TINY, "--out", str(out)]) == 130
    assert "continue with --resume" in capsys.readouterr().err
    assert (out / "checkpoint.pt").is_file() and not (out / "model.json").exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp")]
    monkeypatch.undo()
    assert main(["--resume", "--out", str(out), "--no-progress"]) == 0


def test_report_on_incomplete_runs(tmp_path, capsys):
    run = tmp_path / "r"
    run.mkdir()
    for text, message in (("{", "is not readable JSON (JSONDecodeError)"),
                          ('{"qat": 0.5}', "is incomplete: it lacks metric, integer, seconds, "
                                           "config"),
                          ('{"metric": "accuracy", "qat": 1, "integer": 1, "seconds": 1, '
                           '"config": {"task": "digits"}}', "lacks config.cell"),
                          ("[]", "it lacks an object")):
        (run / "train.json").write_text(text)
        assert report.main([str(run)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_report_help_and_no_arguments():
    r = subprocess.run([sys.executable, "-m", "train.report", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m train.report")
    r = subprocess.run([sys.executable, "-m", "train.report"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "RUN" in r.stderr


def test_train_json_of_a_finished_run_is_complete(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--epochs", "1", "--out", str(out)]) == 0
    assert report.main([str(out)]) == 0
    assert json.loads((out / "train.json").read_text())["config"]["hidden"] == 4


def test_input_scale_range_uses_the_whole_input_format_without_saturating(tmp_path):
    from hw import modelfile
    from train import data

    task = data.digits(0)
    runs = {}
    for scale in ("std", "range"):
        out = tmp_path / scale
        assert main([*TINY, "--epochs", "1", "--input-scale", scale, "--out", str(out)]) == 0
        model = modelfile.load(out / "model.json")
        assert model.meta["config"]["input_scale"] == scale
        runs[scale] = model.quantize_input(task.train.x)  # what every later stage computes
    f = modelfile.load(tmp_path / "range" / "model.json").formats.input
    # std, the task's own transform (digits: every pixel / 16): nothing saturates either
    assert not ((runs["std"] == f.max) | (runs["std"] == f.min)).any()
    # range: each pixel column's extremes land on +-max, none beyond
    r = runs["range"].reshape(-1, 8)
    spread = task.train.x.reshape(-1, 8).max(axis=0) > task.train.x.reshape(-1, 8).min(axis=0)
    assert (r.max(axis=0)[spread] == f.max).all() and (r.min(axis=0)[spread] == -f.max).all()
    assert (r > f.min).all()


def test_input_scale_is_checked(tmp_path, capsys):
    assert main([*TINY, "--input-scale", "minmax", "--out", str(tmp_path / "r")]) == 2
    assert "--input-scale 'minmax' is not one of std, range" in capsys.readouterr().err


def test_row_gain_is_checked(tmp_path, capsys):
    assert main([*TINY, "--row-gain", "yes", "--out", str(tmp_path / "r")]) == 2
    assert "--row-gain 'yes' is not one of none, learned" in capsys.readouterr().err
    assert main([*TINY, "--quant", "binary", "--row-gain", "learned",
                 "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == ("error: --row-gain learned applies to ternary, "
                                       "pow2-ternary, exponential, not --quant binary\n")
    assert not (tmp_path / "r").exists()


def test_damp_is_checked(tmp_path, capsys):
    assert main([*TINY, "--damp", "-1", "--out", str(tmp_path / "r")]) == 2
    assert "--damp must be a number from 0 (off), not -1.0" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
