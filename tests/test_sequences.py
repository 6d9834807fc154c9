"""train/sequences.py: UEA/UCR .ts problems and the user's .npz, their splits and errors; a run
monitors and selects on the validation split, never on the test split."""

import json

import numpy as np
import pytest

from hw.errors import UserError
from train import sequences
from train.__main__ import main


def _cases(rng, n, channels=3, classes=("a", "b")):
    labels = [classes[i % len(classes)] for i in range(n)]
    cases = [rng.normal(size=(int(rng.integers(4, 9)), channels)) + (classes.index(y) * 2 - 1)
             for y in labels]
    return cases, labels


@pytest.fixture
def problem(ts_writer):
    def make(folder, name="Walk", channels=3):
        rng = np.random.default_rng(1)
        folder.mkdir(exist_ok=True)
        for split, n in (("TRAIN", 20), ("TEST", 8)):
            ts_writer(folder / f"{name}_{split}.ts", *_cases(rng, n, channels), name)
        return folder
    return make


def test_any_ts_problem_by_folder_file_or_prefix(tmp_path, problem):
    problem(tmp_path / "p")
    a = sequences.ts(tmp_path / "p")
    b = sequences.ts(tmp_path / "p" / "Walk_TEST.ts")
    c = sequences.ts(tmp_path / "p" / "Walk")
    assert a.input_size == 3 and a.classes == ["a", "b"] and len(a.test) == 8
    assert len(a.train) + len(a.valid) == 20 and len(a.valid) == 4  # 15 % of each class
    for t in (b, c):
        assert np.array_equal(t.valid.x, a.valid.x) and np.array_equal(t.test.y, a.test.y)


@pytest.mark.parametrize("line,message", [
    ("1,2,3:4,5:6,7,8:a", "line 10: ragged case: its channels have 3, 2, 3 values"),
    ("1,?,3:4,5,6:6,7,8:a", "line 10: a channel holds a value that is not a number"),
    ("1,NaN,3:4,5,6:6,7,8:a", "line 10: missing or infinite values"),
    ("1,2,3:4,5,6:a", "line 10: expected 3 channels of equal length, got 2"),
])
def test_ts_errors_name_the_line_and_the_problem(tmp_path, line, message, problem):
    p = problem(tmp_path / "p")
    f = p / "Walk_TRAIN.ts"
    text = f.read_text().splitlines()
    text.insert(9, line)  # the first @data line is line 10
    f.write_text("\n".join(text) + "\n")
    with pytest.raises(UserError, match=message):
        sequences.ts(p)


def test_ts_folder_and_timestamp_errors(tmp_path, problem):
    with pytest.raises(UserError, match="holds 0 \\*_TRAIN.ts files"):
        sequences.ts(tmp_path)
    p = problem(tmp_path / "p")
    (p / "Walk_TEST.ts").unlink()
    with pytest.raises(UserError, match="Walk_TEST.ts does not exist"):
        sequences.ts(p)
    f = p / "Walk_TRAIN.ts"
    f.write_text(f.read_text().replace("@timeStamps false", "@timeStamps true"))
    (p / "Walk_TEST.ts").write_text(f.read_text())
    with pytest.raises(UserError, match="time-stamped .ts data"):
        sequences.ts(p)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_padded_with_lengths_and_a_split(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 6, 2))
    lengths = np.array([6, 5, 4, 3, 6, 5, 4, 3, 6, 2])
    split = np.array(["train"] * 6 + ["valid"] * 2 + ["test"] * 2)
    y = np.array(["no", "yes"] * 5)
    t = sequences.npz(_npz(tmp_path / "d.npz", x=x, y=y, lengths=lengths, split=split))
    assert t.classes == ["no", "yes"] and t.input_size == 2
    assert (len(t.train), len(t.valid), len(t.test)) == (6, 2, 2)
    assert list(t.test.lengths) == [6, 2] and list(t.test.y) == [0, 1]
    assert np.array_equal(t.test.x[1, :2], x[9, :2]) and (t.test.x[1, 2:] == 0).all()


def test_npz_concatenated_rows_and_the_default_split(tmp_path):
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 7, 60)
    rows = rng.normal(size=(lengths.sum(), 4))
    y = np.arange(60) % 3
    t = sequences.npz(_npz(tmp_path / "d.npz", x=rows, y=y, lengths=lengths))
    assert t.classes == ["0", "1", "2"]
    assert (len(t.train), len(t.valid), len(t.test)) == (42, 9, 9)  # 70/15/15 of each class
    assert sorted(t.test.lengths.tolist() + t.valid.lengths.tolist()
                  + t.train.lengths.tolist()) == sorted(lengths.tolist())
    again = sequences.npz(tmp_path / "d.npz")
    assert np.array_equal(again.test.x, t.test.x)  # seeded


@pytest.mark.parametrize("arrays,message", [
    (dict(x=np.zeros((3, 2, 1))), "lacks y"),
    (dict(x=np.zeros((3, 2, 1)), y=np.zeros(4, int)), "x has 3 sequences, y 4 labels"),
    (dict(x=np.zeros((3, 2, 1)), y=np.zeros(3, int), lengths=np.array([1, 3, 1])),
     "lengths must be 3 integers from 1 to 2"),
    (dict(x=np.full((3, 2, 1), np.nan), y=np.zeros(3, int)), "sequence 0 holds NaN"),
    (dict(x=np.zeros((3, 2, 1)), y=np.array([0, 1, 0]), split=np.array(["train"] * 3)),
     "split has no test cases"),
    (dict(x=np.array([np.zeros((2, 1)), np.zeros((3, 1))], dtype=object), y=np.zeros(2, int)),
     "x is an object array .* would unpickle"),
])
def test_npz_errors(tmp_path, arrays, message):
    with pytest.raises(UserError, match=message):
        sequences.npz(_npz(tmp_path / "d.npz", **arrays))


def test_save_npz_writes_a_list_of_sequences_without_pickle(tmp_path):
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(t, 2)) for t in (3, 7, 1, 5, 4, 6)]
    split = ["train", "train", "valid", "test", "train", "test"]
    sequences.save_npz(tmp_path / "d.npz", xs, ["a", "b", "a", "b", "b", "a"], split=split)
    with np.load(tmp_path / "d.npz", allow_pickle=False) as z:
        assert z["x"].shape == (26, 2) and z["lengths"].tolist() == [3, 7, 1, 5, 4, 6]
    t = sequences.npz(tmp_path / "d.npz")
    assert np.array_equal(t.test.x[0, :5], xs[3]) and list(t.test.lengths) == [5, 6]
    assert list(t.valid.y) == [0] and t.classes == ["a", "b"]
    with pytest.raises(UserError, match="same F"):
        sequences.save_npz(tmp_path / "e.npz", [np.zeros((2, 2)), np.zeros((2, 3))], [0, 1])
    assert not (tmp_path / "e.npz").exists()


def test_npz_not_an_npz(tmp_path):
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(UserError, match="is not a readable .npz file"):
        sequences.npz(tmp_path / "d.json")


def test_a_run_monitors_and_selects_on_validation_never_test(tmp_path, problem):
    problem(tmp_path / "p")
    out = tmp_path / "r"
    assert main(["--task", "ts", "--data", str(tmp_path / "p"), "--hidden", "4", "--epochs", "4",
                 "--select", "metric", "--no-progress", "--out", str(out)]) == 0
    res = json.loads((out / "train.json").read_text())
    assert all("valid_accuracy" in e and not any(k.startswith("test") for k in e)
               for e in res["epochs"])
    valid = [e["valid_accuracy"] for e in res["epochs"]]
    assert res["selected_epoch"] == {"qat": 1 + valid.index(max(valid))}
    assert res["integer"] == res["qat"]


def test_one_class_is_refused_in_one_line(tmp_path, capsys, ts_writer):
    rng = np.random.default_rng(0)
    f = tmp_path / "one.npz"
    sequences.save_npz(f, [rng.normal(size=(5, 2)) for _ in range(30)], ["walk"] * 30)
    out = tmp_path / "r"  # the reproduction: this trained to "accuracy 1.0"
    assert main(["--task", "sequences", "--data", str(f), "--hidden", "4", "--epochs", "1",
                 "--no-progress", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"error: {f}: y holds one class ('walk'); classification needs two or more (one class "
        f"would score accuracy 1.0 with a constant answer)\n")
    assert not out.exists()
    # two classes declared, but the file's split leaves one in training
    sequences.save_npz(f, [rng.normal(size=(5, 2)) for _ in range(30)], [0] * 20 + [1] * 10,
                       split=["train"] * 20 + ["test"] * 10, classes=["a", "b"])
    with pytest.raises(UserError, match="the training split holds one class \\('a'\\)"):
        sequences.npz(f)
    p = tmp_path / "p"
    p.mkdir()
    for split in ("TRAIN", "TEST"):
        ts_writer(p / f"One_{split}.ts", [rng.normal(size=(6, 2)) for _ in range(8)],
                  ["x"] * 8, "One")
    with pytest.raises(UserError, match="One_TRAIN.ts holds one class \\('x'\\)"):
        sequences.ts(p)
