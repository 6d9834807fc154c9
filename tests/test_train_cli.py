"""`python -m train` and `python -m train.report` on bad input and signals: one line, exit 2
(130 when stopped), no traceback, nothing half-written and no empty run folder left behind."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from train import data, loop, report
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


# ---------------------------------------------------------------- a run folder is never replaced
# silently (issue 33): an unfinished or another run needs --resume or --overwrite

def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_rerunning_an_interrupted_command_without_resume_is_refused(tmp_path, monkeypatch,
                                                                    capsys):
    _sigterm_at(monkeypatch, 1)
    out = tmp_path / "run"
    assert main([*TINY, "--out", str(out)]) == 130
    monkeypatch.undo()
    before = (out / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    assert main([*TINY, "--out", str(out)]) == 2  # the same command again
    err = _one_error_line(capsys)
    assert err == (f"error: {out} holds an unfinished run of these options (stopped after qat "
                   f"epoch 1); continue it with --resume, or start it again with --overwrite\n")
    assert (out / "checkpoint.pt").read_bytes() == before
    assert main([*TINY, "--out", str(out), "--hidden", "5"]) == 2  # other options: also refused
    assert _one_error_line(capsys) == (
        f"error: {out} holds an unfinished run with other options (--hidden 4 there, 5 here; "
        f"stopped after qat epoch 1); continue it with --resume, or replace it with "
        f"--overwrite\n")
    assert main([*TINY, "--out", str(out), "--resume", "--overwrite"]) == 2
    assert "--resume and --overwrite exclude each other" in _one_error_line(capsys)
    assert main([*TINY, "--out", str(out), "--overwrite"]) == 0  # starts again, to the end
    assert [h["epoch"] for h in json.loads((out / "train.json").read_text())["epochs"]] == [1, 2]


def test_training_into_an_old_run_folder_with_other_options_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--epochs", "1", "--out", str(out)]) == 0
    old = {f.name: f.read_bytes() for f in out.iterdir()}
    capsys.readouterr()
    assert main([*TINY, "--epochs", "1", "--quant", "binary", "--out", str(out)]) == 2
    assert _one_error_line(capsys) == (
        f"error: {out} holds another finished run (--quant 'ternary' there, 'binary' here); "
        f"choose another run folder, or replace it with --overwrite\n")
    assert main([*TINY, "--epochs", "1", "--out", str(out)]) == 2  # the same, finished
    assert "already holds this run, finished; --resume writes its outputs again, " \
           "--overwrite trains it again" in _one_error_line(capsys)
    assert {f.name: f.read_bytes() for f in out.iterdir()} == old
    # --overwrite with a data path that fails: the old run stays whole
    assert main([*TINY, "--task", "vowels", "--data", str(tmp_path / "none"), "--overwrite",
                 "--out", str(out)]) == 2
    assert {f.name: f.read_bytes() for f in out.iterdir()} == old
    assert main([*TINY, "--epochs", "1", "--quant", "binary", "--overwrite",
                 "--out", str(out)]) == 0
    assert json.loads((out / "train.json").read_text())["config"]["quant"] == "binary"
    assert json.loads((out / "model.json").read_text())["meta"]["config"]["quant"] == "binary"


def test_a_folder_with_another_model_but_no_checkpoint_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.json").write_text("{}")
    (out / "notes.txt").write_text("mine")  # files that are no run's do not count
    assert main([*TINY, "--out", str(out)]) == 2
    assert _one_error_line(capsys) == (f"error: {out} holds model.json of another run; choose "
                                       f"another run folder, or replace them with --overwrite\n")
    assert (out / "model.json").read_text() == "{}"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main([*TINY, "--epochs", "1", "--out", str(mine)]) == 0
    assert (mine / "notes.txt").read_text() == "mine"


def test_the_python_api_refuses_the_same_way(tmp_path):
    import pytest

    import shiftrnn
    from hw.errors import UserError

    out = tmp_path / "r"
    shiftrnn.train(out, hidden=4, epochs=1)
    with pytest.raises(UserError, match=r"holds another finished run \(--hidden 4 there, 5 here\)"
                       r"; choose another run folder, or replace it with overwrite=True$"):
        shiftrnn.train(out, hidden=5, epochs=1)
    with pytest.raises(UserError, match="resume=True and overwrite=True exclude each other"):
        shiftrnn.train(out, resume=True, overwrite=True)
    assert shiftrnn.train(out, hidden=5, epochs=1, overwrite=True).model.hidden_size == 5


# ---------------------------------------------------------------- checked before any work

def test_a_run_folder_that_cannot_be_written_fails_before_training(tmp_path, monkeypatch,
                                                                  capsys):
    import errno

    from hw import fileio

    def no_epoch(*a, **k):
        raise AssertionError("an epoch ran")

    monkeypatch.setattr(loop, "train_epoch", no_epoch)
    # /sys refuses new folders even to root: a real file system saying no
    assert main([*TINY, "--out", "/sys/shiftrnn-run"]) == 2
    assert _one_error_line(capsys).startswith("error: cannot write to run folder "
                                              "/sys/shiftrnn-run: ")

    def read_only(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(fileio.tempfile, "mkstemp", read_only)
    out = tmp_path / "ro"
    assert main([*TINY, "--out", str(out)]) == 2
    assert _one_error_line(capsys) == (f"error: cannot write to run folder {out}: "
                                       f"Read-only file system\n")
    assert not out.exists()


def test_a_bad_option_value_is_one_line_without_usage():
    r = subprocess.run([sys.executable, "-m", "train", "--hidden", "3.5", "--out", "x"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("error: argument --hidden: invalid int value: '3.5' "
                        "(see python -m train --help)\n")
    r = subprocess.run([sys.executable, "-m", "train", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m train")


def test_no_progress_prints_the_data_and_a_line_per_epoch(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--baseline", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    t = data.digits(0)
    assert lines[0] == (f"digits: {len(t.train)} train, {len(t.valid)} valid, {len(t.test)} "
                        f"test sequences of 8 steps; 10 classes; inputs 8 features; "
                        f"metric accuracy")
    epochs = [ln for ln in lines if " epoch " in ln]
    assert [ln.split(":")[0] for ln in epochs] == ["float epoch 1/2", "float epoch 2/2",
                                                   "qat epoch 1/2", "qat epoch 2/2"]
    for ln in epochs:
        assert re.fullmatch(r"\w+ epoch \d/2: loss \d\.\d{4}, train_accuracy \d\.\d{4}, "
                            r"valid_accuracy \d\.\d{4}, valid_loss \d\.\d{4} \(\d+\.\d s\)", ln), ln
    assert lines[-1].startswith("accuracy: qat ") and len(lines) == 6


def _make_n(*args) -> list[str]:
    """The commands `make -n ARGS` would run (continuation lines joined)."""
    r = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.replace("\\\n", " ").splitlines()


def test_make_train_passes_the_options_people_set():
    import shlex

    from train.__main__ import parser

    lines = _make_n("train", "SEED=3", "LR=0.005", "BATCH=8", "LAYERS=2", "BASELINE=1",
                    "INPUT_QUANT=int8", "HEAD_QUANT=int4", "EPOCHS=5",
                    "TRAIN_ARGS=--overwrite --warmup 1.5")
    cmd = shlex.split(next(ln for ln in lines if " -m train " in ln))
    assert cmd[1:3] == ["-m", "train"]
    a = parser().parse_args(cmd[3:])
    assert (a.seed, a.lr, a.batch, a.layers, a.baseline, a.input_quant, a.head_quant,
            a.epochs, a.overwrite, a.warmup) == (3, 0.005, 8, 2, True, "int8", "int4", 5,
                                                 True, 1.5)
    plain = parser().parse_args(shlex.split(next(ln for ln in _make_n("train")
                                                 if " -m train " in ln))[3:])
    assert (plain.seed, plain.lr, plain.baseline, plain.overwrite) == (None, None, None, False)


def test_make_installs_with_the_venvs_own_python():
    # a .venv copied from another clone keeps a pip script that runs the other clone's python
    text = "\n".join(_make_n("-B", ".venv/.stamp", "lock"))
    assert text.count("pip ") == text.count(".venv/bin/python -m pip ") == 5
    assert "bin/pip" not in text
