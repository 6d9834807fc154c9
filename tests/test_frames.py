"""train/frames.py and --frame: K steps fed as one, on sequences made here."""

import json

import numpy as np
import pytest

from hw import metrics, modelfile
from hw.errors import UserError
from train import frames
from train.__main__ import main
from train.data import Split, Task


def _task(lengths, f=2):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(lengths), max(lengths), f))
    for i, n in enumerate(lengths):
        x[i, n:] = 0
    s = Split(x, np.array(lengths), np.arange(len(lengths)) % 2)
    return Task("ts", "accuracy", "last", ["a", "b"], f, s, s, s,
                offset=np.array([0.5, -1.0]), scale=np.array([2.0, 4.0]))


def test_steps_are_grouped_channel_minor_and_the_tail_is_filled_with_the_offset():
    t = _task([5, 3, 6])
    k = frames.stack(t, 2)
    assert k.input_size == 4 and k.train.x.shape == (3, 3, 4)
    assert list(k.train.lengths) == [3, 2, 3]
    # step 1 of case 0 holds original steps 2 and 3, channels next to each other
    assert np.array_equal(k.train.x[0, 1], np.concatenate([t.train.x[0, 2], t.train.x[0, 3]]))
    # case 0 has 5 steps: the second half of its third step is the fill
    assert np.array_equal(k.train.x[0, 2, 2:], t.offset)
    assert np.array_equal(k.offset, np.tile(t.offset, 2)) and np.array_equal(k.scale,
                                                                             np.tile(t.scale, 2))
    assert frames.stack(t, 1) is t


def test_frame_refuses_a_task_with_a_target_per_step():
    t = _task([4])
    t.emit = "every"
    with pytest.raises(UserError, match="--frame 2 needs a task with one label per sequence"):
        frames.stack(t, 2)


def test_a_framed_run_exports_k_times_the_inputs_exactly(tmp_path, ts_writer):
    rng = np.random.default_rng(1)
    for split, n in (("TRAIN", 24), ("TEST", 10)):
        labels = ["a" if i % 2 else "b" for i in range(n)]
        cases = [rng.normal(size=(int(rng.integers(5, 12)), 2)) + (y == "a") for y in labels]
        ts_writer(tmp_path / f"P_{split}.ts", cases, labels, "P")
    out = tmp_path / "r"
    assert main(["--task", "ts", "--data", str(tmp_path / "P"), "--frame", "3", "--hidden", "4",
                 "--epochs", "2", "--no-progress", "--out", str(out)]) == 0
    res = json.loads((out / "train.json").read_text())
    assert res["exact"] and res["integer"] == res["qat"] and res["config"]["frame"] == 3
    assert res["frame"] == 3 and modelfile.load(out / "model.json").meta["frame"] == 3
    model = modelfile.load(out / "model.json")
    ts = metrics.load_testset(out / "testset.npz")
    assert model.input_size == 6 and ts.x.shape[2] == 6 and ts.lengths.max() <= 4


def test_auto_brings_the_longest_training_case_to_32_steps_or_fewer():
    assert frames.resolve("auto", _task([100, 64])) == 4  # 25 steps
    assert frames.resolve("auto", _task([32, 5])) == 1
    assert frames.resolve("auto", _task([33])) == 2
    assert frames.resolve(3, _task([33])) == 3


def test_ts_defaults_to_auto_and_older_runs_read_as_one_step_per_step():
    from train.config import Config

    assert Config(task="ts").frame == "auto" and Config(task="digits").frame == 1
    old = Config(task="ts").as_dict()
    del old["frame"]  # a checkpoint from before --frame
    assert Config.from_dict(old).frame == 1


@pytest.mark.parametrize("value", ["0", "two", "2000"])
def test_a_bad_frame_is_one_error_line(tmp_path, capsys, value):
    assert main(["--frame", value, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --frame must be auto or an integer from 1 to 1024, not ")
    assert err.count("\n") == 1 and not (tmp_path / "r").exists()
