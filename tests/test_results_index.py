"""results/README.md indexes every file in results/: a file the index does not name, or a name
in the index that is not a file, fails. A row's first cell names its files as links; a link
ending in `/` names a folder of like files, which covers everything under it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\[[^\]]*\]\(([^()\s]+)\)")


def index_entries(readme: Path) -> list[str]:
    """The link targets in the first cell of every table row of the index."""
    entries = []
    for line in readme.read_text().splitlines():
        if not line.startswith("|") or re.match(r"^\|[\s|:-]*$", line):
            continue  # not a table row, or its |---| line
        entries += LINK.findall(line.split("|")[1])
    return entries


def index_problems(folder: Path) -> list[str]:
    """What is wrong between `folder`'s files and its README.md's index, one line each."""
    entries = index_entries(folder / "README.md")
    problems = [f"{e}: named twice in the index" for e in sorted(set(entries))
                if entries.count(e) > 1]
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
             if p.is_file() and p != folder / "README.md"}
    folders = [e for e in entries if e.endswith("/")]
    for e in entries:
        path = folder / e
        if e.endswith("/") and not (path.is_dir() and any(f.startswith(e) for f in files)):
            problems.append(f"{e}: in the index, but no such folder of files")
        elif not e.endswith("/") and not path.is_file():
            problems.append(f"{e}: in the index, but no such file")
    for f in sorted(files):
        if f not in entries and not any(f.startswith(d) for d in folders):
            problems.append(f"{f}: not in the index (results/README.md)")
    return problems


def test_results_index_matches_the_folder():
    assert index_entries(ROOT / "results" / "README.md")  # the index has rows at all
    assert index_problems(ROOT / "results") == []


def test_index_problems_both_ways(tmp_path):
    (tmp_path / "runs").mkdir()
    for name in ("a.json", "b.jsonl", "runs/x.json", "runs/y.json", "c.png"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "README.md").write_text(
        "# index\n\n| file | what |\n|---|---|\n"
        "| [a.json](a.json), [b.jsonl](b.jsonl) | two records |\n"
        "| [runs/](runs/) | a folder of like files |\n"
        "| [gone.json](gone.json) | deleted since |\n"
        "| [empty/](empty/) | no such folder |\n"
        "| [a.json](a.json) | again |\n"
        "text that mentions [c.png](c.png) outside the table does not index it\n")
    assert index_problems(tmp_path) == [
        "a.json: named twice in the index",
        "gone.json: in the index, but no such file",
        "empty/: in the index, but no such folder of files",
        "c.png: not in the index (results/README.md)"]
