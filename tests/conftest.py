"""Fixtures shared by the tests: small data sets made on the spot (no ../shared/data)."""

from pathlib import Path

import numpy as np
import pytest


def write_ts(path: Path, cases, labels, name="X") -> None:
    """A UEA/UCR multivariate .ts file: cases are (T_i, channels) arrays."""
    head = (f"#made by the test\n@problemName {name}\n@timeStamps false\n@missing false\n"
            f"@univariate false\n@dimensions {cases[0].shape[1]}\n@equalLength false\n"
            f"@classLabel true {' '.join(sorted(set(labels)))}\n@data\n")
    rows = (":".join(",".join(f"{v:.5f}" for v in ch) for ch in x.T) + f":{y}\n"
            for x, y in zip(cases, labels, strict=True))
    path.write_text(head + "".join(rows))


@pytest.fixture
def ts_writer():
    return write_ts


@pytest.fixture
def vowels_dir(tmp_path):
    """A small Japanese-Vowels-shaped data set (12 channels, 7-29 frames, 9 classes) whose
    class shows in the channel means, so a short training run learns something."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "vowels"
    folder.mkdir()
    for split, n in (("TRAIN", 90), ("TEST", 45)):
        labels = [str(1 + i % 9) for i in range(n)]
        cases = [rng.normal(size=(int(rng.integers(7, 30)), 12)) * 0.3
                 + np.linspace(-1, 1, 12) * (int(y) - 5) / 4 for y in labels]
        write_ts(folder / f"JapaneseVowels_{split}.ts", cases, labels, "JapaneseVowels")
    return folder
