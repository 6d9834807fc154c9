"""bench/stale.py on a tiny git repository made here: which figure blocks are stale, fresh or
unknown, by the commit they name and the later commits to the code they depend on."""

import subprocess

import pytest

from bench.stale import Git, blocks, check_file, kinds, main


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _commit(repo, files: dict, message: str) -> str:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        _git(repo, "add", name)
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    return tmp_path


DOC = """# Results

## Hardware

Measured at commit {hw}: 4418 LUTs, Fmax 36.2 MHz.

| design | LUTs | steps/s |
|---|---|---|
| gru 32 | 4418 | 64,864 |

## Training

The ternary GRU reached 98.05 % (no commit named here).

## Words

Nothing measured here: a GRU has three gates and a 32-bit bus.
"""


def test_blocks_and_kinds():
    bs, heads = blocks("d.md", DOC.format(hw="abc1234"))
    assert [(b.start, b.kinds) for b in bs] == [
        (5, ("hardware",)), (7, ("hardware",)), (13, ("accuracy",)), (17, ())]
    assert bs[0].hashes == ["abc1234"] and bs[1].hashes == []
    assert heads == [(1, 1), (3, 2), (11, 2), (15, 2)]
    assert kinds(["took 12.5 s on 2 cores"]) == ("time",)
    assert kinds(["built for the ulx3s", "`0x10 | first`"]) == ()  # not 3 s, not 10 s
    assert kinds(["| cell | accuracy |", "|---|---|", "| gru | 0.9805 |"]) == ("accuracy",)


def test_stale_fresh_and_unknown_by_git_history(repo):
    c1 = _commit(repo, {"hw/gen/engine.py": "a = 1\n", "train/loop.py": "b = 1\n"}, "code")
    _commit(repo, {"docs/results.md": DOC.format(hw=c1[:7])}, "docs")
    git = Git(repo)
    found = check_file("docs/results.md", git)
    # nothing changed since: the named block (and the table in its section) are fresh; the
    # accuracy names no commit and its code did not change since its last edit: unknown
    assert [(f.block.start, f.status) for f in found] == [(5, "fresh"), (7, "fresh"),
                                                          (13, "unknown")]
    assert found[1].commit == c1 and found[1].named  # from the paragraph before it
    assert not found[2].named and found[2].changed == 0

    c3 = _commit(repo, {"hw/gen/engine.py": "a = 2\n"}, "the engine changed")
    found = check_file("docs/results.md", Git(repo))
    assert [(f.block.start, f.status) for f in found] == [(5, "stale"), (7, "stale"),
                                                          (13, "unknown")]
    assert (found[0].changed, found[0].last_change) == (1, c3)

    # a change to train/ makes the unnamed accuracy stale: it was last edited before it
    c4 = _commit(repo, {"train/loop.py": "b = 2\n"}, "training changed")
    f = check_file("docs/results.md", Git(repo))[2]
    assert (f.status, f.named, f.last_change) == ("stale", False, c4)

    # measured again: the block names the new commit and is fresh again
    _commit(repo, {"docs/results.md": DOC.format(hw=c4[:7])}, "measured again")
    assert [f.status for f in check_file("docs/results.md", Git(repo))][:2] == ["fresh"] * 2


def test_a_hex_word_that_is_no_commit_is_not_a_commit(repo):
    _commit(repo, {"hw/gen/engine.py": "a = 1\n"}, "code")
    _commit(repo, {"README.md": "Colour deadbee1: 4418 LUTs.\n"}, "docs")
    (f,) = check_file("README.md", Git(repo))
    assert not f.named and f.status == "unknown"


def test_the_command_lists_and_counts(repo, capsys):
    c1 = _commit(repo, {"hw/gen/engine.py": "a = 1\n"}, "code")
    _commit(repo, {"README.md": DOC.format(hw=c1[:7])}, "docs")
    _commit(repo, {"hw/gen/engine.py": "a = 3\n"}, "the engine changed")
    assert main(["--repo", str(repo)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("STALE   README.md:5 ")
    assert out[-1].startswith("3 figure blocks: 2 stale, 1 unknown (no commit named), 0 fresh")
    assert main(["--repo", str(repo / "nowhere")]) == 2  # one line, exit 2
    assert capsys.readouterr().err.startswith("error: ")
