"""train/data.py: task loaders, their splits, and one clear error per bad input."""

import wave
from pathlib import Path

import numpy as np
import pytest

from hw.errors import UserError
from train import data


def test_digits_is_a_seeded_shuffled_80_20_split_with_validation_from_the_80():
    from sklearn.datasets import load_digits

    a, b, c = data.digits(0), data.digits(0), data.digits(1)
    d = load_digits()
    order = np.random.default_rng(0).permutation(len(d.images))
    n_train = int(round(0.8 * len(order)))
    assert np.array_equal(a.test.x, d.images[order[n_train:]])  # the 20 %, as before
    assert np.array_equal(a.test.y, d.target[order[n_train:]])
    # train and valid split the 80 % between them: 15 % of each class to validation
    rest = d.images[order[:n_train]].reshape(n_train, -1)
    both = np.concatenate([a.train.x, a.valid.x]).reshape(n_train, -1)
    for u, v in zip(np.unique(both, axis=0, return_counts=True),
                    np.unique(rest, axis=0, return_counts=True), strict=True):
        assert np.array_equal(u, v)  # the same images, each as often
    for k in range(10):
        n = int((d.target[order[:n_train]] == k).sum())
        held = int(round(0.15 * n))
        assert (a.valid.y == k).sum() == held and (a.train.y == k).sum() == n - held
    assert np.array_equal(a.valid.x, b.valid.x) and not np.array_equal(a.test.x, c.test.x)
    assert a.valid.lengths.tolist() == [8] * len(a.valid)
    assert sorted(set(a.train.y)) == list(range(10)) and (a.train.lengths == 8).all()
    assert a.metric == "accuracy" and a.emit == "last" and a.input_size == 8
    # the input transform maps the pixels' training range 0..16 onto [0, 1], one scale for all
    assert np.array_equal(a.offset, np.zeros(8)) and np.array_equal(a.scale, np.full(8, 1 / 16))
    with pytest.raises(UserError, match="takes no --data"):
        data.load("digits", "/somewhere")


def _ptb(folder: Path, text="a b _ c\nd _ e f\n"):
    for s in ("train", "valid", "test"):
        (folder / f"ptb.char.{s}.txt").write_text(text * 20)


def test_ptb_char_format(tmp_path):
    _ptb(tmp_path)
    t = data.char(tmp_path, seq_len=7)
    assert t.classes == ["_", "a", "b", "c", "d", "e", "f"] and t.input_size == 7
    sym = "ab_cd_ef" * 20  # lines are joined, spaces are separators
    ids = np.array([t.classes.index(c) for c in sym])
    assert np.array_equal(t.train.x[0], ids[:7]) and np.array_equal(t.train.y[0], ids[1:8])
    assert np.array_equal(t.train.x[1], ids[7:14])
    # the test split keeps its short tail, padded with -1 targets
    n = len(sym) - 1
    assert t.test.lengths.sum() == n and (t.test.y[-1, t.test.lengths[-1]:] == -1).all()
    assert t.emit == "every" and t.metric == "bpc" and t.onehot
    f = t.features(t.train, [0])
    assert f.shape == (1, 7, 7) and (f.sum(axis=-1) == 1).all()


def test_plain_text_splits_90_5_5(tmp_path):
    (tmp_path / "input.txt").write_text("hello world\n" * 100)
    t = data.char(tmp_path, seq_len=10)
    assert t.classes == sorted(set("hello world\n"))
    assert len(t.train) == (1080 - 1) // 10
    assert t.valid.lengths.sum() == 59 and t.test.lengths.sum() == 59
    assert data.char(tmp_path / "input.txt", seq_len=10).classes == t.classes


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "data path .* does not exist"),
    (lambda p: p.mkdir(), "has neither ptb.char"),
    (lambda p: (p.mkdir(), (p / "input.txt").write_text("  \n")), "is empty"),
    (lambda p: (p.mkdir(), (p / "input.txt").write_bytes(b"ab\xff\xfe")), "is not UTF-8 text"),
    (lambda p: (p.mkdir(), (p / "ptb.char.train.txt").write_text("a b\n")), "lacks ptb.char.valid"),
    (lambda p: (p.mkdir(), _ptb(p, "a bc d\n")), r"line 1: token 'bc' is not one character"),
    (lambda p: (p.mkdir(), (p / "input.txt").write_text("abcd" * 25)), "shorter than one sequence"),
])
def test_char_errors_are_one_clear_line(tmp_path, setup, message):
    p = tmp_path / "d"
    setup(p)
    with pytest.raises(UserError, match=message) as e:
        data.char(p, seq_len=100)
    assert "\n" not in str(e.value)


def test_char_needs_a_path():
    with pytest.raises(UserError, match="task char needs --data PATH"):
        data.load("char")


_TS_HEAD = "#comment\n@problemName X\n@classLabel true 1 2 3\n@data\n"


def _ts(rows):
    """rows: (T, 12) arrays and labels -> .ts text."""
    return _TS_HEAD + "".join(
        ":".join(",".join(f"{v:g}" for v in ch) for ch in x.T) + f":{y}\n" for x, y in rows)


def test_vowels_ts_files(tmp_path):
    rng = np.random.default_rng(0)
    shapes = ((7, 1), (9, 2), (8, 3), (6, 1), (10, 2), (11, 3))
    train = [(rng.normal(size=(t, 12)).round(3), y) for t, y in shapes]
    test = [(rng.normal(size=(5, 12)).round(3), 3)]
    (tmp_path / "JapaneseVowels_TRAIN.ts").write_text(_ts(train))
    (tmp_path / "JapaneseVowels_TEST.ts").write_text(_ts(test))
    t = data.vowels(tmp_path)
    # one case of each class is held out for validation, the rest keep the file's order
    assert sorted(t.valid.y) == [0, 1, 2] and sorted(t.train.y) == [0, 1, 2]
    kept = [i for i in range(6) if any(np.array_equal(t.train.x[j, :t.train.lengths[j]],
                                                      train[i][0]) for j in range(3))]
    held = [i for i in range(6) if i not in kept]
    assert list(t.train.lengths) == [shapes[i][0] for i in kept]
    assert list(t.valid.lengths) == [shapes[i][0] for i in held]
    assert t.train.x.shape == (3, max(shapes[i][0] for i in kept), 12)
    assert list(t.test.y) == [2] and t.classes == ["1", "2", "3"]
    assert (t.train.x[0, t.train.lengths[0]:] == 0).all()
    assert data.vowels(tmp_path, seed=0).valid.lengths.tolist() == t.valid.lengths.tolist()


@pytest.mark.parametrize("line,message", [
    ("1,2:3,x:1", "line 5: a channel holds a value that is not a number"),
    ("1,2:3,4:1", "line 5: expected 12 channels"),
])
def test_vowels_malformed_lines(tmp_path, line, message):
    (tmp_path / "JapaneseVowels_TRAIN.ts").write_text(_TS_HEAD + line + "\n")
    (tmp_path / "JapaneseVowels_TEST.ts").write_text(_TS_HEAD + line + "\n")
    with pytest.raises(UserError, match=message):
        data.vowels(tmp_path)


def test_vowels_missing_file(tmp_path):
    with pytest.raises(UserError, match="JapaneseVowels_TRAIN.ts does not exist"):
        data.vowels(tmp_path)


def test_a_vowels_shaped_data_set(vowels_dir):
    t = data.vowels(vowels_dir)
    assert (len(t.train), len(t.valid), len(t.test)) == (72, 18, 45) and len(t.classes) == 9
    assert sorted(set(t.valid.y)) == list(range(9))  # 2 of each speaker's 10 held out
    assert 7 <= t.train.lengths.min() and t.test.lengths.max() <= 29


def _wav(path: Path, samples: np.ndarray, rate=8000, channels=1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(samples, channels).astype("<i2").tobytes())


def test_fsdd_log_mel_frames_and_official_split(tmp_path):
    rng = np.random.default_rng(0)
    for digit, take, n in ((3, 0, 4000), (3, 17, 2000), (5, 12, 30000), (5, 4, 100),
                           (7, 9, 900), (7, 5, 900)):
        _wav(tmp_path / f"{digit}_jackson_{take}.wav", rng.integers(-3000, 3000, n))
    t = data.fsdd(tmp_path)
    assert list(t.train.y) == [3, 5] and list(t.test.y) == [3, 5] and list(t.valid.y) == [7, 7]
    hop, win = data.FSDD_HOP, data.FSDD_WINDOW
    assert list(t.train.lengths) == [1 + (2000 - win) // hop, data.FSDD_MAX_FRAMES]
    assert list(t.test.lengths) == [1 + (4000 - win) // hop, 1]  # a short clip is padded
    assert t.train.x.shape[2] == data.FSDD_MELS == t.input_size


def test_mel_filterbank_covers_the_band():
    fb = data.mel_filterbank(16, 256, 8000)
    assert fb.shape == (16, 129) and (fb >= 0).all() and (fb.max(axis=1) > 0.5).all()
    peaks = fb.argmax(axis=1)
    assert (np.diff(peaks) > 0).all()


@pytest.mark.parametrize("name,rate,channels,message", [
    ("3_a_1.wav", 16000, 1, "16000 Hz; expected mono 16-bit 8000 Hz"),
    ("3_a_1.wav", 8000, 2, "2 channel"),
    ("three.wav", 8000, 1, "named DIGIT_SPEAKER_TAKE.wav"),
])
def test_fsdd_bad_files(tmp_path, name, rate, channels, message):
    _wav(tmp_path / name, np.zeros(500, dtype=np.int64), rate, channels)
    with pytest.raises(UserError, match=message):
        data.fsdd(tmp_path)


def test_fsdd_not_a_wav(tmp_path):
    (tmp_path / "1_a_1.wav").write_bytes(b"RIFFnonsense")
    with pytest.raises(UserError, match="is not a valid WAV file"):
        data.fsdd(tmp_path)


@pytest.mark.parametrize("keep", [30, 45, -501])
def test_fsdd_truncated_wav(tmp_path, keep):
    _wav(tmp_path / "1_a_1.wav", np.zeros(1000, dtype=np.int64))
    whole = (tmp_path / "1_a_1.wav").read_bytes()
    (tmp_path / "1_a_1.wav").write_bytes(whole[:keep])
    with pytest.raises(UserError, match=r"1_a_1.wav is (truncated: its header announces 1000 "
                                        r"samples|not a valid WAV file: \w)") as e:
        data.fsdd(tmp_path)
    assert "\n" not in str(e.value)


def test_fsdd_needs_both_splits(tmp_path):
    _wav(tmp_path / "1_a_10.wav", np.zeros(900, dtype=np.int64))
    with pytest.raises(UserError, match="has no validation recordings"):
        data.fsdd(tmp_path)
    _wav(tmp_path / "1_a_5.wav", np.zeros(900, dtype=np.int64))
    with pytest.raises(UserError, match="has no test recordings"):
        data.fsdd(tmp_path)
