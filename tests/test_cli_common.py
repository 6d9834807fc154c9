"""hw.cli (one-line option errors, exit codes) and hw.fileio.writable_folder."""

import errno
import os

import pytest

from hw import fileio
from hw.cli import EXIT_INTERRUPTED, EXIT_USER, Parser, run
from hw.errors import UserError


def test_a_bad_option_is_one_line_naming_it(capsys):
    p = Parser(prog="python -m x")
    p.add_argument("--hidden", type=int)
    p.add_argument("--board", choices=("icebreaker", "ulx3s"))
    for argv, names in ((["--hidden", "3.5"], ("--hidden", "3.5")),
                        (["--board", "de10"], ("--board", "de10", "icebreaker", "ulx3s"))):
        with pytest.raises(SystemExit) as e:
            p.parse_args(argv)
        assert e.value.code == EXIT_USER
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and "usage" not in err
        assert all(n in err for n in names)


def test_subcommand_parsers_are_one_line_too(capsys):
    p = Parser(prog="python -m hw")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("verilog").add_argument("--simd", type=int)
    with pytest.raises(SystemExit):
        p.parse_args(["verilog", "--simd", "x"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--simd" in err


def test_run_maps_user_errors_and_interrupts(capsys):
    cleaned = []

    def bad():
        raise UserError("the model file is missing")

    def stop():
        raise KeyboardInterrupt

    assert run(lambda: 0) == 0
    assert run(bad, on_user_error=cleaned.append) == EXIT_USER and len(cleaned) == 1
    assert capsys.readouterr().err == "error: the model file is missing\n"
    assert run(stop, interrupted=lambda: "interrupted; rerun with --resume") == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "interrupted; rerun with --resume\n"


def test_writable_folder_creates_and_checks(tmp_path):
    out = fileio.writable_folder(tmp_path / "a" / "b")
    assert out.is_dir() and list(out.iterdir()) == []  # the probe file is gone
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="exists and is not a folder"):
        fileio.writable_folder(tmp_path / "f")


def test_writable_folder_names_a_read_only_file_system(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    with pytest.raises(UserError, match=f"cannot write to run folder {tmp_path}: Read-only"):
        fileio.writable_folder(tmp_path, "run folder")


def test_writable_folder_on_a_folder_that_cannot_be_made():
    # /sys cannot take new folders, even for root (a real file system refusing, no mock)
    with pytest.raises(UserError, match="cannot write to output folder /sys/shiftrnn-x"):
        fileio.writable_folder("/sys/shiftrnn-x")
