"""bench/char_ablation.py's per-matrix diagnostic (`diag_matrix`): which matrix's quantizer it
replaces, and that nothing stays patched after the run."""

import pytest
import torch

from bench.char_ablation import _diagnose, matrix_quantizers
from hw.errors import UserError
from train.cells import Net
from train.config import Config


def _net():
    torch.manual_seed(0)
    return Net(cell="gru", input_size=6, hidden=8, outputs=5, emit="every", quant="ternary",
               level_shift=1)


def _levels(w: torch.Tensor) -> set[float]:
    return {round(v, 12) for v in w.detach().abs().flatten().tolist()}


def test_a_float_matrix_trains_on_its_shadow_weights_and_the_others_stay_ternary():
    net = _net()
    _diagnose(net, Config(task="char"), {"diag_matrix": {"ih": "float"}})
    with torch.no_grad():
        net.rnn.weight_ih_l0.mul_(3.0)  # beyond the ternary clip bound
    with matrix_quantizers():
        w_ih, w_hh = net.rnn.qweight("weight_ih_l0"), net.rnn.qweight("weight_hh_l0")
        assert torch.equal(w_ih, net.rnn.weight_ih_l0)
        assert len(_levels(w_hh)) == 2  # 0 and the level
        net.clip_shadow_()
        assert net.rnn.weight_ih_l0.abs().max() > 2.0 ** net.rnn._exp["weight_ih_l0"]
        assert net.rnn.weight_hh_l0.abs().max() <= 2.0 ** net.rnn._exp["weight_hh_l0"]
    assert len(_levels(net.rnn.qweight("weight_ih_l0"))) <= 2  # unpatched again


def test_another_quantizer_for_the_head_gives_its_codes_and_its_clip_bound():
    net = _net()
    _diagnose(net, Config(task="char"), {"diag_matrix": {"head": "exponential"}})
    e = net.head._exp["weight"]
    with torch.no_grad():
        net.head.weight.uniform_(-(2.0 ** (e + 3)), 2.0 ** (e + 3))
    with matrix_quantizers():
        levels = _levels(net.head.qweight("weight")) - {0.0}
        assert len(levels) > 2
        assert all(torch.log2(torch.tensor(v)).item().is_integer() for v in levels)
        net.clip_shadow_()
    assert net.head.weight.abs().max() <= 2.0 ** (e + 1)  # exponential's bound: twice the level
    assert net.head.weight.abs().max() > 2.0 ** e


def test_an_unknown_matrix_or_quantizer_is_refused():
    with pytest.raises(UserError, match="'wx' is not one of ih, hh, head"):
        _diagnose(_net(), Config(task="char"), {"diag_matrix": {"wx": "float"}})
    with pytest.raises(UserError, match="quantizer 'int3' is not one of float, binary"):
        _diagnose(_net(), Config(task="char"), {"diag_matrix": {"hh": "int3"}})


def test_the_summary_averages_a_variant_over_the_records_that_hold_it(tmp_path, capsys):
    import json

    from bench.char_summary import main as summary_main

    def write(path, rows):
        path.write_text("".join(json.dumps({"name": n, "qat": v}) + "\n" for n, v in rows))

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write(a, [("float", 1.8), ("ternary", 2.1), ("binary", 2.5)])
    write(b, [("float", 1.9), ("ternary", 2.0)])
    assert summary_main([str(a), str(b)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[2] == "| float | 1.800 | 1.900 | 1.850 | 2 | +0.000 |"
    assert rows[3] == "| ternary | 2.100 | 2.000 | 2.050 | 2 | +0.200 |"
    assert rows[4] == "| binary | 2.500 | - | 2.500 | 1 | +0.700 |"
    write(a, [("float", 1.8), ("float-lr", 1.7), ("ternary", 2.1)])
    write(b, [("float", 1.9), ("ternary", 2.0)])
    assert summary_main([str(a), str(b), "--reference", "float-lr"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].endswith("| mean - float-lr |")
    assert rows[3] == "| float-lr | 1.700 | - | 1.700 | 1 | +0.000 |"
    # the reference is missing from record b: no difference for a mean over both records
    assert rows[4] == "| ternary | 2.100 | 2.000 | 2.050 | 2 |  |"
    assert summary_main([str(tmp_path / "none.jsonl")]) == 2
    assert capsys.readouterr().err == f"error: record {tmp_path / 'none.jsonl'} does not exist\n"


def test_the_summary_shows_the_final_validation_or_training_bpc_when_asked(tmp_path, capsys):
    import json

    from bench.char_summary import main as summary_main

    rows = [{"name": "float", "qat": 1.8, "valid": [2.0, 1.85], "train": [2.2, 1.75]},
            {"name": "ternary", "qat": 2.1, "valid": [2.3, 2.12], "train": [2.5, 2.2]},
            {"name": "old", "qat": 2.0}]  # a record without curves: left out of those splits
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert summary_main([str(path), "--split", "train"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2:] == ["| float | 1.750 | 1.750 | 1 | +0.000 |",
                       "| ternary | 2.200 | 2.200 | 1 | +0.450 |"]
    assert summary_main([str(path), "--split", "valid"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2:] == ["| float | 1.850 | 1.850 | 1 | +0.000 |",
                       "| ternary | 2.120 | 2.120 | 1 | +0.270 |"]
    assert summary_main([str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[4] == "| old | 2.000 | 2.000 | 1 | +0.200 |"


def test_the_summary_reads_the_epoch_validation_selected(tmp_path, capsys):
    import json

    from bench.char_summary import main as summary_main

    rows = [{"name": "float", "qat": 0.9, "valid": [0.8, 0.95, 0.9], "train": [0.7, 0.9, 0.99],
             "selected_epoch": 2}]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for split, want in (("valid", "0.950"), ("train", "0.900")):
        assert summary_main([str(path), "--split", split]) == 0
        row = capsys.readouterr().out.splitlines()[2]
        assert row == f"| float | {want} | {want} | 1 | +0.000 |"


def test_another_task_records_its_own_metric_and_the_selected_epoch(tmp_path):
    import json

    from bench.char_ablation import main as ablation_main

    record = tmp_path / "r.jsonl"
    assert ablation_main(["--task", "digits", "--base",
                          '{"hidden": 4, "epochs": 2, "mode": "weights", "batch": 128}',
                          "--variant", "float", '{"quant": "float"}', "--record", str(record),
                          "--runs", str(tmp_path / "runs")]) == 0
    rec = json.loads(record.read_text())
    res = json.loads((tmp_path / "runs" / "float" / "train.json").read_text())
    assert rec["metric"] == "accuracy" and rec["config"]["task"] == "digits"
    assert rec["valid"] == [e["valid_accuracy"] for e in res["epochs"]]
    assert rec["train"] == [e["train_accuracy"] for e in res["epochs"]]
    assert rec["selected_epoch"] == res["selected_epoch"]["qat"]
    assert rec["valid"][rec["selected_epoch"] - 1] == max(rec["valid"])
    assert rec["qat"] == res["qat"] and rec["integer"] == res["integer"]


def test_resume_continues_an_interrupted_variant_from_its_checkpoint(tmp_path, monkeypatch):
    import json

    from bench.char_ablation import main as ablation_main
    from train import loop

    args = ["--task", "digits", "--base", '{"hidden": 4, "epochs": 3, "mode": "weights", '
            '"batch": 128}', "--variant", "float", '{"quant": "float"}',
            "--runs", str(tmp_path / "runs")]
    assert ablation_main([*args, "--record", str(tmp_path / "whole.jsonl")]) == 0
    whole = json.loads((tmp_path / "whole.jsonl").read_text())
    real, calls = loop.train_epoch, []

    def killed_after_two(*a, **kw):  # the session ends during the third epoch
        calls.append(a[6])
        if a[6] == 2 and len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(loop, "train_epoch", killed_after_two)
    record = str(tmp_path / "cut.jsonl")
    runs = ["--runs", str(tmp_path / "cut")]
    with pytest.raises(KeyboardInterrupt):
        ablation_main([*args[:-2], *runs, "--record", record])
    assert ablation_main([*args[:-2], *runs, "--record", record, "--resume"]) == 0
    assert calls == [0, 1, 2, 2]  # epoch 3 again, not epochs 1 and 2
    cut = json.loads((tmp_path / "cut.jsonl").read_text())
    assert (cut["valid"], cut["qat"], cut["integer"]) == \
        (whole["valid"], whole["qat"], whole["integer"])
