"""train/loop.py and `python -m train`: outputs, exactness, determinism, resume, errors, PTQ."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hw import metrics, modelfile
from hw.reference import Reference
from train import loop, report
from train.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "8", "--epochs", "2", "--threads", "1", "--no-progress"]


def _run(tmp_path, *args, name="run"):
    out = tmp_path / name
    assert main([*TINY, *args, "--out", str(out)]) == 0
    return out, json.loads((out / "train.json").read_text())


def test_a_digits_run_writes_every_output_and_the_integer_model_agrees(tmp_path):
    out, res = _run(tmp_path, "--cell", "gru", "--quant", "ternary", "--mode", "hardware")
    for f in ("model.json", "testset.npz", "train.json", "curves.png", "checkpoint.pt"):
        assert (out / f).stat().st_size > 0, f
    assert res["metric"] == "accuracy" and res["integer"] == res["qat"] and res["exact"]
    assert [e["epoch"] for e in res["epochs"]] == [1, 2] and "float" not in res
    assert res["config"]["quant"] == "ternary" and res["seconds"] > 0
    # recompute the integer metric from the files alone, as sim/ and the board host do
    model = modelfile.load(out / "model.json")
    ts = metrics.load_testset(out / "testset.npz")
    pred = Reference(model).predict(ts.x)
    assert metrics.accuracy(pred, ts.y) == res["integer"]
    assert model.meta["task"] == "digits" and model.emit == "last"
    assert model.meta["config"] == res["config"] and len(model.meta["classes"]) == 10
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_report_tables_finished_runs(tmp_path, capsys):
    out, res = _run(tmp_path, "--quant", "exponential", "--epochs", "1")
    assert report.main([str(out)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("| digits | gru | 8 | exponential | hardware | 1 |")
    assert f"| {res['qat']:.4f} | {res['integer']:.4f} |" in last
    assert report.main([str(tmp_path / "none")]) == 2


def test_level_lr_scale_and_fit_rule_runs_export_exactly(tmp_path):
    out, res = _run(tmp_path, "--quant", "pow2-ternary", "--lr-scale", "level", "--level-rule",
                    "fit", "--epochs", "1")
    assert res["exact"] and res["integer"] == res["qat"]
    assert res["config"]["lr_scale"] == "level" and res["config"]["level_rule"] == "fit"


def test_a_checkpoint_from_before_the_new_options_still_resumes(tmp_path):
    out, first = _run(tmp_path, "--epochs", "1")
    ckpt = loop.load_checkpoint(out / "checkpoint.pt")
    for k in ("level_rule", "lr_scale"):  # what older trainers wrote
        del ckpt["config"][k]
    loop.save_checkpoint(out / "checkpoint.pt", ckpt)
    assert main(["--out", str(out), "--resume", "--no-progress"]) == 0
    assert json.loads((out / "train.json").read_text())["integer"] == first["integer"]


def test_runs_are_deterministic(tmp_path):
    a, _ = _run(tmp_path, "--quant", "ternary-stoch", name="a")
    b, _ = _run(tmp_path, "--quant", "ternary-stoch", name="b")
    assert (a / "model.json").read_bytes() == (b / "model.json").read_bytes()


def test_resume_continues_a_killed_run_and_matches_an_uninterrupted_one(tmp_path, monkeypatch):
    args = ["--cell", "lstm", "--quant", "exponential-stoch", "--epochs", "3"]
    full, res_full = _run(tmp_path, *args, name="full")
    saved = []
    real_save = loop.save_checkpoint

    def killed_after_two_epochs(path, state):
        real_save(path, state)
        saved.append(state["epoch"])
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", killed_after_two_epochs)
    out = tmp_path / "killed"
    assert main([*TINY, *args, "--out", str(out)]) == 130
    assert not (out / "model.json").exists() and saved == [1, 2]
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    assert main([*TINY, *args, "--out", str(out), "--resume"]) == 0
    res = json.loads((out / "train.json").read_text())
    assert [e["epoch"] for e in res["epochs"]] == [1, 2, 3]

    def strip(r):
        return [{k: v for k, v in e.items() if k != "seconds"} for e in r["epochs"]]

    assert strip(res) == strip(res_full)
    assert (out / "model.json").read_bytes() == (full / "model.json").read_bytes()


def test_nan_loss_stops_with_a_clear_message(tmp_path, monkeypatch, capsys):
    real = loop.loss_fn
    monkeypatch.setattr(loop, "loss_fn", lambda logits, y: real(logits, y) * float("nan"))
    assert main([*TINY, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == "error: the loss became nan at qat epoch 1 step 1; lower --lr (now 0.02) " \
                  "or check the data\n"


def test_nan_weights_stop_with_a_clear_message(tmp_path, monkeypatch, capsys):
    from train.cells import Net

    def poisoned(net):
        net.rnn.weight_hh_l0.data[0, 0] = float("inf")

    monkeypatch.setattr(Net, "clip_shadow_", poisoned)
    assert main([*TINY, "--batch", "5000", "--out", str(tmp_path / "r")]) == 2  # 1 step/epoch
    assert capsys.readouterr().err == "error: parameter rnn.weight_hh_l0 became NaN/inf at the " \
        "end of qat epoch 1; lower --lr (now 0.02)\n"


@pytest.mark.parametrize("args,message", [
    (["--task", "char"], "task char needs --data PATH"),
    (["--task", "vowels", "--data", "/no/such/folder"], "data path /no/such/folder does not exist"),
    (["--quant", "ternery"], "--quant 'ternery' is not one of float, binary"),
    (["--hidden", "0"], "--hidden must be an integer from 1 to 4096, not 0"),
    (["--lr", "-1"], "--lr must be a positive number, not -1.0"),
    (["--ptq-finetune", "2"], "--ptq-finetune needs --ptq"),
    (["--lr-scale", "fast"], "--lr-scale 'fast' is not one of none, level"),
    (["--level-rule", "best"], "--level-rule 'best' is not one of glorot, fit"),
    (["--resume"], "--resume: .*checkpoint.pt does not exist"),
    (["--input-quant", "int9"], "--input-quant 'int9' is not one of float, binary"),
    (["--quant", "float", "--head-quant", "int8"], "--head-quant needs a quantized --quant"),
    (["--warmup", "2"], r"--warmup must be a number of epochs from 0 \(off\) to below --epochs "
                        r"\(2\), not 2.0"),
    (["--warmup", "-0.5"], "--warmup must be .*, not -0.5"),
    (["--select", "best"], "--select 'best' is not one of loss, metric, metric-last"),
    (["--patience", "-1"], "--patience must be an integer from 0 to 100000, not -1"),
    (["--dropout", "1"], r"--dropout must be a probability from 0 \(off\) to below 1, not 1.0"),
    (["--device", "tpu"], "--device 'tpu' is not one of cpu, cuda"),
    (["--device", "cuda"], "--device cuda trains in --mode weights only"),
])
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, capsys, args, message):
    assert main([*TINY, *args, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    import re

    assert re.search(message, err), err


def test_resume_takes_the_checkpoint_options_and_refuses_other_ones(tmp_path, capsys):
    out, first = _run(tmp_path, "--epochs", "1", "--quant", "int4")
    assert main(["--out", str(out), "--resume", "--no-progress"]) == 0  # a finished run: re-export
    again = json.loads((out / "train.json").read_text())
    assert again["config"] == first["config"] and again["integer"] == first["integer"]
    assert main([*TINY, "--epochs", "1", "--quant", "binary", "--out", str(out), "--resume"]) == 2
    assert "error: --resume: --quant 'binary' differs from the checkpoint's 'int4'" in \
        capsys.readouterr().err


def test_the_command_line_prints_no_traceback(tmp_path):
    p = subprocess.run([sys.executable, "-m", "train", "--task", "fsdd", "--data",
                        str(tmp_path / "none"), "--out", str(tmp_path / "r")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr == f"error: data path {tmp_path / 'none'} does not exist\n"


def test_post_training_quantization_with_fine_tuning(tmp_path):
    _, res = _run(tmp_path, "--ptq", "--ptq-finetune", "1", "--quant", "pow2-ternary")
    assert [(e["phase"], e["epoch"]) for e in res["epochs"]] == \
        [("float", 1), ("float", 2), ("finetune", 1)]
    assert {"float", "ptq", "qat", "integer"} <= set(res) and res["integer"] == res["qat"]
    assert res["float"] != res["ptq"]


def test_ptq_without_fine_tuning_and_a_float_baseline(tmp_path):
    _, ptq = _run(tmp_path, "--ptq", "--quant", "binary", name="ptq")
    assert ptq["ptq"] == ptq["qat"] == ptq["integer"]
    _, qat = _run(tmp_path, "--baseline", "--quant", "binary", name="qat")
    assert qat["float"] == ptq["float"]  # the same float model, trained the same way
    assert [e["phase"] for e in qat["epochs"]] == ["float", "float", "qat", "qat"]


def test_variable_length_vowels_in_hardware_mode(tmp_path, vowels_dir):
    _, res = _run(tmp_path, "--task", "vowels", "--data", str(vowels_dir), "--cell", "lstm",
                  "--epochs", "1", "--activation", "hard")
    assert res["integer"] == res["qat"] > 1 / 9


def test_char_language_model_in_hardware_mode(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat. " * 80)
    out, res = _run(tmp_path, "--task", "char", "--data", str(text), "--seq-len", "20",
                    "--quant", "exponential", "--batch", "16")
    assert res["metric"] == "bpc" and res["integer"] == res["qat"]
    assert 0 < res["qat"] < np.log2(12)
    # the model file says its input is one-hot; the test set holds a token a step, and its
    # padded tail (token 0) is where hardware mode and the reference were compared too
    model = modelfile.load(out / "model.json")
    assert model.onehot and model.input_onehot == model.input_size == 11
    ts = metrics.load_testset(out / "testset.npz")
    assert ts.x.shape[-1] == 1 and ts.x.max() < 11 and ts.lengths.min() < ts.x.shape[1]


def test_digits_selects_and_monitors_on_validation_never_test(tmp_path, monkeypatch):
    """Every score that picks the exported epoch, and every per-epoch figure, comes from the
    validation split carved from the training cases; the test split is scored only for the
    final results."""
    tasks, calls, losses = [], [], []
    real_load, real_eval, real_loss = loop.data.load, loop.evaluate, loop.logits_loss

    def load(*a, **kw):
        tasks.append(real_load(*a, **kw))
        return tasks[-1]

    def evaluate(net, inputs, split):
        out = real_eval(net, inputs, split)
        calls.append((split, out[0]))
        return out

    def logits_loss(net, logits, split):
        losses.append((split, real_loss(net, logits, split)))
        return losses[-1][1]

    monkeypatch.setattr(loop.data, "load", load)
    monkeypatch.setattr(loop, "evaluate", evaluate)
    monkeypatch.setattr(loop, "logits_loss", logits_loss)
    out, res = _run(tmp_path, "--epochs", "3", "--select", "metric")
    task, = tasks
    assert task.valid is not None and len(task.valid) > 0
    valid_scores = [s for split, s in calls if split is task.valid]
    assert len(valid_scores) == 3 and all(split is task.valid for split, _ in losses)
    assert all(split is task.test for split, _ in calls if split is not task.valid)
    assert [e["valid_accuracy"] for e in res["epochs"]] == valid_scores
    assert [e["valid_loss"] for e in res["epochs"]] == [v for _, v in losses]
    assert not any(k.startswith("test") for e in res["epochs"] for k in e)
    assert res["selected_epoch"] == {"qat": 1 + valid_scores.index(max(valid_scores))}


def test_the_run_exports_the_epoch_its_rule_keeps(tmp_path):
    """The weights the run ends with (and exports) are those of the epoch the rule names, and
    the validation loss is that of the hardware-mode logits, read as reals."""
    import torch

    from train.config import Config

    weights = {}

    def on_epoch(ph, rec, net, inputs):
        weights[rec["epoch"]] = {k: v.clone() for k, v in net.state_dict().items()}
        x, lengths, y = inputs.batch(inputs.task.valid, np.arange(len(inputs.task.valid)),
                                     torch.float64)
        net.eval()
        with torch.no_grad():
            want = loop.loss_fn(net(x, lengths), y).item()  # reals of the output format
        assert rec["valid_loss"] == pytest.approx(want, rel=1e-12)

    cfg = Config(hidden=8, epochs=4, select="loss", seed=1)
    res = loop.run(cfg, tmp_path / "r", progress=False, on_epoch=on_epoch)
    losses = [e["valid_loss"] for e in res["epochs"]]
    kept = 1 + losses.index(min(losses))
    assert res["selected_epoch"] == {"qat": kept} and len(weights) == 4
    final = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)["net"]
    assert all(torch.equal(final[k], weights[kept][k]) for k in final)


def test_patience_stops_a_phase_and_resume_stops_at_the_same_epoch(tmp_path, monkeypatch):
    """With the validation loss rising after epoch 1, --patience 2 ends the phase after epoch
    3 and keeps epoch 1; a run killed after epoch 3 and resumed trains nothing more."""
    rising = iter(range(1, 100))
    monkeypatch.setattr(loop, "logits_loss", lambda net, logits, split: float(next(rising)))
    args = ["--epochs", "6", "--select", "loss", "--patience", "2"]
    full, res = _run(tmp_path, *args, name="full")
    assert [e["epoch"] for e in res["epochs"]] == [1, 2, 3]
    assert res["selected_epoch"] == {"qat": 1} and res["stopped_after"] == {"qat": 3}
    assert res["config"]["patience"] == 2

    rising = iter(range(1, 100))
    real_save = loop.save_checkpoint

    def killed_after_three_epochs(path, state):
        real_save(path, state)
        if state["epoch"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", killed_after_three_epochs)
    out = tmp_path / "killed"
    assert main([*TINY, *args, "--out", str(out)]) == 130
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    assert main([*TINY, *args, "--out", str(out), "--resume"]) == 0
    again = json.loads((out / "train.json").read_text())
    assert [e["epoch"] for e in again["epochs"]] == [1, 2, 3]
    assert (out / "model.json").read_bytes() == (full / "model.json").read_bytes()


def test_the_input_matrix_and_the_head_may_have_their_own_quantizers(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat. " * 80)
    out, res = _run(tmp_path, "--task", "char", "--data", str(text), "--seq-len", "20",
                    "--quant", "ternary", "--input-quant", "int8", "--head-quant", "exponential",
                    "--batch", "16", "--layers", "2")
    assert res["integer"] == res["qat"] and res["exact"]  # hardware mode: every logit equal
    model = modelfile.load(out / "model.json")
    assert [m.scheme for _, m in model.matrices()] == \
        ["int8", "ternary", "ternary", "ternary", "exponential"]
    assert res["config"]["input_quant"] == "int8" and res["config"]["head_quant"] == "exponential"
    assert report.row(out)["quant"] == "ternary (input int8, head exponential)"
    # post-training quantization: the float phase is all float, the quantized model mixed
    out, res = _run(tmp_path, "--ptq", "--ptq-finetune", "1", "--quant", "ternary",
                    "--input-quant", "int8", "--epochs", "1", name="ptq")
    assert res["integer"] == res["qat"] and res["float"] != res["ptq"]
    schemes = [m.scheme for _, m in modelfile.load(out / "model.json").matrices()]
    assert schemes == ["int8", "ternary", "ternary"]


def test_shadow_clip_lets_exponential_weights_grow_and_the_model_stays_exact(tmp_path):
    import torch

    from train import quantizers as Q

    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat. " * 80)
    common = ["--task", "char", "--data", str(text), "--seq-len", "20", "--quant", "exponential",
              "--batch", "16", "--lr", "0.5", "--epochs", "4"]
    peaks = {}
    for k in (1, 4):
        out, res = _run(tmp_path, *common, "--shadow-clip", str(k), name=f"k{k}")
        assert res["integer"] == res["qat"] and res["exact"]  # hardware mode: every logit equal
        assert res["config"]["shadow_clip"] == k
        state = torch.load(out / "checkpoint.pt", weights_only=False)["net"]
        w = state["rnn.weight_ih_l0"]
        e = Q.glorot_exponent(w.shape[1], w.shape[0] // 3) + 1  # char level shift 1
        peaks[k] = w.abs().max().item() / 2.0**e
    assert peaks[1] == 2.0  # pinned at the default bound, twice the level
    assert 2.0 < peaks[4] <= 16.0  # past it, within the wider one


def test_own_input_or_head_quantizers_turn_the_char_level_lr_scale_off():
    from train.config import Config

    assert Config(task="char").lr_scale == "level"
    assert Config(task="char", input_quant="int8").lr_scale == "none"
    assert Config(task="char", head_quant="int8").lr_scale == "none"
    assert Config(task="char", head_quant="int8", lr_scale="level").lr_scale == "level"


def test_cosine_lr_warms_up_linearly_then_decays_to_zero():
    assert [loop.cosine_lr(1.0, s, 10, 4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert loop.cosine_lr(1.0, 4, 10, 4) == 1.0  # the decay starts at the full rate
    assert loop.cosine_lr(1.0, 7, 10, 4) == pytest.approx(0.5)  # half-way through the decay
    assert loop.cosine_lr(1.0, 10, 10, 4) == pytest.approx(0.0, abs=1e-12)
    assert [loop.cosine_lr(2.0, s, 8) for s in (0, 4)] == [2.0, pytest.approx(1.0)]  # no warm-up


def test_warmup_is_counted_in_steps_of_each_phase(tmp_path, monkeypatch):
    seen = []

    def spy(base, step, total, warmup=0):
        seen.append((step, total, warmup))
        return real(base, step, total, warmup)

    real = loop.cosine_lr
    monkeypatch.setattr(loop, "cosine_lr", spy)
    out, res = _run(tmp_path, "--batch", "200", "--warmup", "0.5", "--mode", "weights")
    steps = len(seen) // 2  # 2 epochs
    assert steps > 1 and [s for s, _, _ in seen] == list(range(2 * steps))
    assert {(t, w) for _, t, w in seen} == {(2 * steps, round(0.5 * steps))}
    assert res["config"]["warmup"] == 0.5


def test_distill_loss_is_the_kl_divergence_over_the_counted_targets():
    import torch

    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(3, 5, 7, generator=g), torch.randn(3, 5, 7, generator=g)
    y = torch.randint(0, 7, (3, 5), generator=g)
    y[0, 3:] = -1  # padding: not counted
    keep = (y >= 0).reshape(-1)
    want = torch.nn.functional.kl_div(torch.log_softmax(s.reshape(-1, 7)[keep], -1),
                                      torch.log_softmax(t.reshape(-1, 7)[keep], -1),
                                      log_target=True, reduction="batchmean")
    assert torch.isclose(loop.distill_loss(s, t, y), want)
    assert loop.distill_loss(t, t, y).abs() < 1e-6 < want


def test_a_distilled_student_follows_its_teacher_and_exports_exactly(tmp_path):
    """--teacher RUN --distill D: the loss adds KL(teacher || net). With D = 1 the student
    learns the teacher's outputs alone and ends closer to them than the same run without it;
    the exported integer model stays the hardware-mode model."""
    import torch

    teacher, _ = _run(tmp_path, "--quant", "float", "--mode", "weights", "--epochs", "3",
                      name="teacher")
    runs = {}
    for d in (0, 1):
        extra = ["--teacher", str(teacher), "--distill", str(d)] if d else []
        runs[d] = _run(tmp_path, "--quant", "ternary", *extra, name=f"student{d}")
    assert runs[1][1]["config"]["teacher"] == str(teacher)
    assert runs[1][1]["integer"] == runs[1][1]["qat"]
    from train.config import Config

    cfg = Config(hidden=8)
    task = loop.data.load(cfg.task, cfg.data, seed=cfg.seed, seq_len=cfg.seq_len)
    shell = modelfile.Model(cfg.cell, task.input_size, cfg.hidden, cfg.activation,
                            loop.Formats.from_pairs(cfg.formats), [], None, task.offset,
                            task.scale)
    inputs = loop.Inputs(task, shell)
    t = torch.from_numpy(loop.outputs(loop._teacher(
        Config(hidden=8, teacher=str(teacher), distill=1.0), task), inputs, task.test))
    kl = {}
    for d, (out, _) in runs.items():
        model = modelfile.load(out / "model.json")
        ts = metrics.load_testset(out / "testset.npz")
        assert (ts.lengths == ts.x.shape[1]).all()  # digits: every sequence is whole
        ref = Reference(model)
        logits = ref.head(ref.run(ts.x)[..., -1, :])
        s = torch.from_numpy(np.asarray(logits, dtype=np.float64) / model.formats.output.one)
        kl[d] = float(loop.distill_loss(s, t, torch.from_numpy(task.test.y)))
    assert kl[1] < kl[0], kl


def test_teacher_errors_are_one_line(tmp_path, capsys):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    char = tmp_path / "t.txt"
    char.write_text("the cat sat on the mat. " * 40)
    other, _ = _run(tmp_path, "--task", "char", "--data", str(char), "--seq-len", "10",
                    "--epochs", "1", "--quant", "float", "--mode", "weights", name="char")
    for args, message in [
        (["--teacher", str(other)], "--teacher and --distill go together"),
        (["--distill", "0.5"], "--teacher and --distill go together"),
        (["--teacher", str(other), "--distill", "2"], "--distill must be a number from 0"),
        (["--teacher", str(tmp_path / "none"), "--distill", "0.5"], "is not a run folder"),
        (["--teacher", str(unfinished), "--distill", "0.5"], "checkpoint.pt does not exist"),
        (["--teacher", str(other), "--distill", "0.5"],
         "was trained on task char, this run is digits"),
    ]:
        assert main([*TINY, *args, "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
        assert not (tmp_path / "r").exists()


def test_dropout_trains_differently_and_the_export_stays_exact(tmp_path):
    """A hardware-mode run with dropout (two layers: every place it acts): the trained model
    differs from the run without, and the exported integer model equals the trained one on
    every logit (finish() compares them) and on the reference run from the files alone."""
    common = ["--layers", "2", "--quant", "exponential", "--mode", "hardware"]
    out, res = _run(tmp_path, *common, "--dropout", "0.3", name="dropout")
    _, plain = _run(tmp_path, *common, name="plain")
    assert res["config"]["dropout"] == 0.3 and plain["config"]["dropout"] == 0.0
    assert res["exact"] and res["integer"] == res["qat"]
    assert [e["loss"] for e in res["epochs"]] != [e["loss"] for e in plain["epochs"]]
    model = modelfile.load(out / "model.json")
    ts = metrics.load_testset(out / "testset.npz")
    assert metrics.accuracy(Reference(model).predict(ts.x), ts.y) == res["integer"]


def test_device_cuda_without_cuda_is_one_error_line(tmp_path, capsys, monkeypatch):
    """Checked before the data loads: a torch without CUDA (as here, or made so) refuses
    --device cuda in one line and leaves no run folder."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "r"
    assert main([*TINY, "--mode", "weights", "--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: --device cuda: this torch {torch.__version__} sees no CUDA device "
                   "(torch.cuda.is_available() is False)\n")
    assert not out.exists()


def test_device_cuda_refuses_a_hardware_mode_teacher(tmp_path, capsys, monkeypatch):
    """A hardware-mode teacher's lookup tables live on the CPU: refused before anything moves
    to the GPU (so this runs without one, CUDA's presence faked)."""
    import torch

    teacher, _ = _run(tmp_path, "--epochs", "1", "--mode", "hardware", name="teacher")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    out = tmp_path / "r"
    assert main([*TINY, "--mode", "weights", "--device", "cuda", "--teacher", str(teacher),
                 "--distill", "0.5", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: --teacher: {teacher} is a hardware-mode run, "
                                       "which runs on the CPU only; train with --device cpu\n")
    assert not out.exists()
