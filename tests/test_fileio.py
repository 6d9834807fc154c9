"""hw/fileio.py: atomic writes leave the old file or the new one, and nothing else."""

import os

import pytest

from hw import fileio


def test_atomic_writes_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        fileio.atomic_write_text(tmp_path / "a.json", "{}")
        with fileio.atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    for name in ("a.json", "b.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "out.txt"
    fileio.atomic_write_text(p, "old\n")
    with pytest.raises(RuntimeError, match="writer failed"):
        with fileio.atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert p.read_text() == "old\n"
    assert [f.name for f in tmp_path.iterdir()] == ["out.txt"]


def test_the_temporary_keeps_the_suffix_and_the_folder_is_made(tmp_path):
    p = tmp_path / "new" / "plot.png"
    with fileio.atomic_path(p) as tmp:
        assert tmp.parent == p.parent and tmp.name.endswith("plot.png") and tmp != p
        tmp.write_bytes(b"\x89PNG")
    assert p.read_bytes() == b"\x89PNG"
    fileio.atomic_write_bytes(p, b"2")
    assert p.read_bytes() == b"2"


def test_npz_round_trip(tmp_path):
    import numpy as np

    p = tmp_path / "a.npz"
    fileio.atomic_write_npz(p, compressed=True, x=np.arange(3))
    with np.load(p) as z:
        assert z["x"].tolist() == [0, 1, 2]
    assert [f.name for f in tmp_path.iterdir()] == ["a.npz"]
