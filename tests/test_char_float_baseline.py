"""bench/char_float_baseline.py: plain torch on a char task, next to our records' float rows."""

import json
import math

import torch

from bench import char_float_baseline as cfb
from train import data


def _text(tmp_path):
    words = ["the", "cat", "sat", "on", "a", "mat"]
    (tmp_path / "input.txt").write_text(" ".join(words[(i * 7) % 6] for i in range(600)))
    return tmp_path


def test_bpc_counts_every_target_once_and_skips_padding(tmp_path):
    task = data.char(_text(tmp_path), seq_len=16)
    net = cfb.Plain("gru", task.input_size, 4)
    with torch.no_grad():  # a head of zeros: every symbol equally likely
        net.head.weight.zero_()
        net.head.bias.zero_()
    assert (task.test.y < 0).any()  # the test tail is padded
    assert math.isclose(cfb.bpc(net, task.test), math.log2(task.input_size), rel_tol=1e-6)


def test_a_short_run_learns_and_the_table_shows_matching_records_only(tmp_path, capsys):
    (tmp_path / "t").mkdir()
    root = _text(tmp_path / "t")
    rec = tmp_path / "rec.jsonl"
    rows = [{"name": "float", "config": {"cell": "gru", "hidden": 4, "epochs": 2, "batch": 8,
                                         "seed": 0}, "qat": 9.25},
            {"name": "float", "config": {"cell": "gru", "hidden": 4, "epochs": 3, "batch": 8,
                                         "seed": 0}, "qat": 7.5},
            {"name": "ternary", "config": {"cell": "gru", "hidden": 4, "epochs": 2, "batch": 8,
                                           "seed": 0}, "qat": 8.0}]
    rec.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.json"
    assert cfb.main(["--data", str(root), "--cells", "gru", "--hidden", "4", "--epochs", "2",
                     "--batch", "8", "--seq-len", "16", "--torch-lr", "0.02",
                     "--schedule", "cosine", "--ours", str(rec), "--out", str(out),
                     "--no-progress"]) == 0
    res = json.loads(out.read_text())["rows"]
    task = data.char(root, seq_len=16)
    assert len(res) == 1 and res[0]["test"] < math.log2(task.input_size)  # it learned
    text = capsys.readouterr().out
    assert f"| gru | torch lr=0.02 (cosine) | {res[0]['test']:.3f} |" in text
    assert "| gru | ours (float, records) | 9.250 | 9.250 |" in text  # only the 2-epoch row


def test_a_missing_data_path_is_one_line(tmp_path, capsys):
    assert cfb.main(["--data", str(tmp_path / "nope"), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == f"error: data path {tmp_path / 'nope'} does not exist"
