"""train/split.py, `python -m train.data split`: the trainer's split as indices into the data
set, so a plain torch model for --init can be trained on the training cases only."""

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from hw.errors import UserError
from train import data, sequences
from train.split import main, save_split

ROOT = Path(__file__).resolve().parents[1]


def _check_cover(s, n):
    parts = [s["train"], s["valid"], s["test"]]
    joined = np.concatenate(parts)
    assert len(joined) == len(set(joined.tolist())) == n  # disjoint and complete
    return parts


def test_the_digits_split_is_the_trainers_and_keeps_the_test_images_out(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    for seed in (0, 3):
        out = tmp_path / f"split{seed}.npz"
        assert main(["digits", "--seed", str(seed), "--out", str(out)]) == 0
        with np.load(out, allow_pickle=False) as z:
            s = dict(z)
        assert (str(s["task"]), int(s["seed"])) == ("digits", seed)
        t = data.digits(seed)
        for idx, split in zip(_check_cover(s, len(d.images)), (t.train, t.valid, t.test),
                              strict=True):
            assert np.array_equal(d.images[idx], split.x)  # the trainer's cases, in its order
            assert np.array_equal(d.target[idx], split.y)
    # the case: a user's own split put 291 of the 359 test images in training; a model
    # trained on these training rows sees none of the trainer's test images (other seeds differ)
    with np.load(tmp_path / "split0.npz") as a, np.load(tmp_path / "split3.npz") as b:
        assert not set(a["train"].tolist()) & set(a["test"].tolist())
        assert set(a["test"].tolist()) != set(b["test"].tolist())


def test_sequences_and_ts_splits_index_the_files_cases(tmp_path, ts_writer):
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(int(rng.integers(3, 8)), 2)) for _ in range(40)]
    f = tmp_path / "s.npz"
    sequences.save_npz(f, xs, np.arange(40) % 2)
    out = tmp_path / "split.npz"
    assert main(["sequences", "--data", str(f), "--out", str(out)]) == 0
    t = data.load("sequences", f)
    with np.load(out) as z:
        s = dict(z)
        for idx, split in zip(_check_cover(s, 40), (t.train, t.valid, t.test), strict=True):
            assert [len(xs[i]) for i in idx] == split.lengths.tolist()
            assert all(np.array_equal(xs[i], split.x[k, : len(xs[i])])
                       for k, i in enumerate(idx))
        assert str(s["data"]) == str(f) and "s.npz" in str(s["source"])
    p = tmp_path / "p"
    p.mkdir()
    cases = [rng.normal(size=(5, 3)) for _ in range(20)]
    ts_writer(p / "W_TRAIN.ts", cases, ["a", "b"] * 10, "W")
    ts_writer(p / "W_TEST.ts", cases[:6], ["a", "b"] * 3, "W")
    t = data.load("ts", p)
    save_split(t, 0, p, out)
    with np.load(out) as z:
        assert sorted(z["train"].tolist() + z["valid"].tolist()) == list(range(20))
        assert z["test"].tolist() == list(range(6))
        assert np.allclose(t.valid.x[0], cases[int(z["valid"][0])], atol=1e-5)


def test_the_fsdd_split_names_its_files(tmp_path):
    for name in ("3_jackson_0.wav", "3_jackson_17.wav", "7_jackson_5.wav"):
        with wave.open(str(tmp_path / name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(np.zeros(400, "<i2").tobytes())
    out = tmp_path / "split.npz"
    assert main(["fsdd", "--data", str(tmp_path), "--out", str(out)]) == 0
    with np.load(out) as z:
        names = z["names"].tolist()
        assert [names[i] for i in z["train"]] == ["3_jackson_17.wav"]
        assert [names[i] for i in z["valid"]] == ["7_jackson_5.wav"]
        assert [names[i] for i in z["test"]] == ["3_jackson_0.wav"]


def test_char_and_bad_input_are_one_line(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("some text to model, " * 30)
    assert main(["char", "--data", str(tmp_path / "t.txt"), "--out",
                 str(tmp_path / "s.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: task char's split is fixed by its files") and \
        err.count("\n") == 1
    with pytest.raises(UserError, match="is a folder; name the .npz file"):
        save_split(data.digits(0), 0, None, tmp_path)
    assert main(["vowels", "--out", str(tmp_path / "s.npz")]) == 2
    assert capsys.readouterr().err == "error: task vowels needs --data PATH (see " \
                                      "docs/training.md)\n"
    assert not (tmp_path / "s.npz").exists()
    r = subprocess.run([sys.executable, "-m", "train.data", "split", "digits", "--seed", "x",
                        "--out", "s.npz"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stderr == ("error: argument --seed: invalid int value: "
                                              "'x' (see python -m train.data split --help)\n")
    r = subprocess.run([sys.executable, "-m", "train.data", "split", "digits",
                        "--out", "s.npz"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("digits seed 0: ")
    assert (tmp_path / "s.npz").is_file()
