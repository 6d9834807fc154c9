"""bench/uea.py and bench/selection.py on tiny .ts problems made here (never the archive's)."""

import json

import numpy as np

from bench import selection, uea


def _problem(root, name, ts_writer, n_train=16, n_test=8, length=12):
    rng = np.random.default_rng(0)
    (root / name).mkdir(parents=True)
    for split, n in (("TRAIN", n_train), ("TEST", n_test)):
        labels = ["a" if i % 2 else "b" for i in range(n)]
        cases = [rng.normal(size=(length, 1)) * 0.3 + (1 if y == "a" else -1) for y in labels]
        ts_writer(root / name / f"{name}_{split}.ts", cases, labels, name)


def test_uea_tables_every_problem_and_rule_and_rereads_its_json(tmp_path, ts_writer, capsys):
    _problem(tmp_path / "d", "GunPoint", ts_writer)
    _problem(tmp_path / "d", "Tiny", ts_writer, length=5)
    out = tmp_path / "runs.json"
    args = ["--data", str(tmp_path / "d"), "--problems", "GunPoint", "Tiny", "--seeds", "0",
            "--config", '{"hidden": 4, "epochs": 3}', "--out", str(out)]
    assert uea.main(args) == 0  # sweep checks that the run's own rule gives its export
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith(("| GunPoint", "| Tiny"))]
    assert rows[0].startswith("| GunPoint | 16 / 8 | 1 x 12 | 2 | 91.3 (0) | 90.7 |")
    assert rows[1].startswith("| Tiny | 16 / 8 | 1 x 5 | 2 |  |  |")  # no archive figure
    saved = json.loads(out.read_text())
    assert {r["label"] for r in saved["runs"]} == \
        {"GunPoint float", "GunPoint ternary", "Tiny float", "Tiny ternary"}
    assert all(len(r["records"]) == 3 for r in saved["runs"])
    assert uea.main(["--from", str(out)]) == 0
    assert capsys.readouterr().out == text[text.index("ts task, gru"):]  # less the progress


def test_uea_names_a_missing_problem_in_one_line(tmp_path, capsys):
    assert uea.main(["--data", str(tmp_path), "--problems", "Nope"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path} has no Nope_TRAIN.ts (looked in " \
        f"{tmp_path / 'Nope'} and {tmp_path})\n"


def test_pick_simulates_early_stopping_on_the_same_records():
    recs = [dict(epoch=e, valid_accuracy=a, valid_loss=v, test=t) for e, a, v, t in
            [(1, 0.5, 0.9, 0.50), (2, 0.7, 0.5, 0.71), (3, 0.6, 0.6, 0.72),
             (4, 0.6, 0.7, 0.73), (5, 0.8, 0.4, 0.90)]]
    assert selection.pick(recs, "loss", "accuracy")["epoch"] == 5
    # patience 2: after epoch 4 two epochs have passed since epoch 2, the run stops there
    assert selection.pick(recs, "loss", "accuracy", 2)["epoch"] == 2
    assert selection.pick(recs, "last", "accuracy", 2)["epoch"] == 5
