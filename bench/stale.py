"""Figures in README.md and docs/*.md that are older than the code they measure, by git history.

    .venv/bin/python -m bench.stale [--all] [FILE ...]

A *figure block* is a paragraph, a table or a fenced block of a doc that holds a measured
figure of one of three kinds (KINDS): `hardware` (a number with LUTs, logic cells, MHz, BRAM,
DSP, steps/s or cycles per step), `accuracy` (a percentage with decimals, or BPC) and `time`
(seconds, minutes, hours). A table's kinds come from its header row, when a body row holds a
number. Each kind depends on code paths (KINDS; `time` on the paths of its doc, TIME_PATHS).

The commit a block was measured at is the newest commit the block itself names (a hex word of
7 to 40 digits that git resolves to a commit); else the last one named before it in its own
section; else in the introduction of an enclosing section (the text between that section's
heading and its first subsection). The block is **stale** when a commit after that one
(`git rev-list C..HEAD`) touches one of its code paths, **fresh** when none does. A block
that names no commit is **unknown**, unless git blame shows that the block was last edited
before a change to its code paths: then it is stale for sure (no figure in it can be newer than
its last edit), and the line says "last edited at".

Limits: the kinds are found by patterns, so a number in prose with a unit (the "12 MHz"
oscillator of a board) counts as a figure; a block is judged as a whole (one named commit for
all its figures); the paths of a kind are coarse (any change under `hw/gen/` makes every
hardware figure stale, even a change that leaves the generated Verilog identical); figures in
other files (results, docstrings) are not read. It lists; it does not fail.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hw.cli import Parser, run
from hw.errors import UserError

_NUM = r"(?<![\w.])\d[\d,]*(?:\.\d+)?"  # not the 3 of ulx3s or the 10 of 0x10
KINDS = {
    "hardware": (re.compile(rf"{_NUM}\s*(?:LUTs?\b|logic cells|MHz|BRAMs?\b|block RAMs?|"
                            rf"DSPs?\b|DSP blocks|steps/s|steps per second|cycles/step|"
                            rf"cycles per (?:time )?step)"),
                 re.compile(r"\b(?:LUTs?|logic cells|Fmax|MHz|BRAM|DSP|steps/s|cycles/step)\b"),
                 ("hw/gen", "hw/board", "hw/cell.py", "hw/numerics.py", "hw/schemes.py")),
    "accuracy": (re.compile(r"(?<![\w.])\d+\.\d+\s?%|"
                            r"(?<![\w.])\d\.\d{2,}\s*(?:test )?(?:BPC|bpc)\b"),
                 re.compile(r"accuracy|\bqat\b|\binteger\b|\bBPC\b|\bbpc\b"),
                 # what decides a trained model's test metric (not train/__main__, report...)
                 ("train/loop.py", "train/cells.py", "train/quantizers.py", "train/ste.py",
                  "train/config.py", "train/select.py", "train/data.py", "train/tasks",
                  "train/export.py", "hw/reference.py", "hw/numerics.py")),
    "time": (re.compile(rf"{_NUM}\s?(?:s|min|ms|seconds|minutes|hours?)\b(?!/)"),
             re.compile(r"\bseconds\b|\bwall\b|\bminutes\b|(?<![/\w])(?:s|min)\s*\|"),
             None),  # the doc's own paths: TIME_PATHS
}
TIME_PATHS = {"README.md": ("demo", "train", "hw", "sim"), "docs/training.md": ("train",),
              "docs/experiments.md": ("train",),
              "docs/explore.md": ("explore", "train", "hw", "sim"),
              "docs/simulation.md": ("sim", "hw/gen"), "docs/boards.md": ("hw/board", "hw/gen"),
              "docs/hardware.md": ("hw/gen",), "docs/paper.md": ("train",)}
DEFAULT_TIME_PATHS = ("train", "hw", "sim")
_HASH = re.compile(r"\b[0-9a-f]{7,40}\b")
_HEADING = re.compile(r"^(#{1,6})\s")


@dataclass
class Block:
    file: str
    start: int  # 1-based first line
    end: int  # 1-based last line
    lines: list[str]
    kinds: tuple[str, ...] = ()
    hashes: list[str] = field(default_factory=list)  # named in the block, in order

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Finding:
    block: Block
    status: str  # "stale", "fresh" or "unknown"
    commit: str | None  # measured at (named), or last edited at (blame) when not named
    named: bool
    changed: int  # commits since `commit` touching the block's code paths
    last_change: str | None  # the newest of those
    paths: tuple[str, ...]


class Git:
    """The few git questions the script asks, answered once each."""

    def __init__(self, repo: Path):
        self.repo = Path(repo)
        self._resolved: dict[str, str | None] = {}
        self._since: dict[tuple, tuple[int, str | None]] = {}
        if self("rev-parse", "--is-inside-work-tree", check=False) != "true":
            raise UserError(f"{self.repo} is not a git work tree")

    def __call__(self, *args: str, check: bool = True) -> str:
        p = subprocess.run(["git", "-C", str(self.repo), *args], capture_output=True,
                           text=True)
        if check and p.returncode:
            raise UserError(f"git {' '.join(args)}: {p.stderr.strip().splitlines()[-1:]}")
        return p.stdout.strip()

    def commit(self, word: str) -> str | None:
        """The full hash of the commit `word` names, or None (not a commit, or ambiguous)."""
        if word not in self._resolved:
            out = self("rev-parse", "--verify", "--quiet", f"{word}^{{commit}}", check=False)
            self._resolved[word] = out or None
        return self._resolved[word]

    def date(self, commit: str) -> int:
        return int(self("show", "-s", "--format=%ct", commit))

    def since(self, commit: str, paths: tuple[str, ...]) -> tuple[int, str | None]:
        """(commits in HEAD but not in `commit` that touch `paths`, the newest one)."""
        key = (commit, paths)
        if key not in self._since:
            out = self("rev-list", f"{commit}..HEAD", "--", *paths).split()
            self._since[key] = (len(out), out[0] if out else None)
        return self._since[key]

    def last_edit(self, file: str, start: int, end: int) -> str | None:
        """The newest commit among the lines' blame; None when one is not committed yet."""
        out = self("blame", "--porcelain", "-L", f"{start},{end}", "--", file, check=False)
        commits = {ln.split()[0] for ln in out.splitlines() if re.match(r"^[0-9a-f]{40} ", ln)}
        if not commits or "0" * 40 in commits:
            return None
        return max(commits, key=self.date)


def blocks(file: str, text: str) -> tuple[list[Block], list[tuple[int, int]]]:
    """(the file's blocks: paragraphs, tables and fenced blocks, split at blank lines and
    headings; its headings as (line, level))."""
    out, heads, cur, fenced = [], [], [], False
    lines = text.splitlines()

    def close(i):
        if cur:
            out.append(Block(file, cur[0], i, [lines[j - 1] for j in cur]))
            cur.clear()

    for i, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            if fenced:
                cur.append(i)
                close(i)
            else:
                close(i - 1)
                cur.append(i)
            fenced = not fenced
            continue
        if fenced:
            cur.append(i)
            continue
        m = _HEADING.match(line)
        if m or not line.strip():
            close(i - 1)
            if m:
                heads.append((i, len(m.group(1))))
            continue
        cur.append(i)
    close(len(lines))
    for b in out:
        b.kinds = kinds(b.lines)
        b.hashes = _HASH.findall(b.text)
    return out, heads


def kinds(lines: list[str]) -> tuple[str, ...]:
    """The kinds of figure the lines hold (KINDS): by pattern, and for a table by its header."""
    text = "\n".join(lines)
    table = len(lines) >= 3 and all(ln.lstrip().startswith("|") for ln in lines[:2]) \
        and set(lines[1].replace("|", "").strip()) <= set("-: ")
    body_has_number = table and any(re.search(r"\d", ln) for ln in lines[2:])
    found = []
    for name, (prose, header, _) in KINDS.items():
        if prose.search(text) or (body_has_number and header.search(lines[0])):
            found.append(name)
    return tuple(found)


def paths_of(b: Block) -> tuple[str, ...]:
    out: list[str] = []
    for k in b.kinds:
        ps = KINDS[k][2] or TIME_PATHS.get(b.file, DEFAULT_TIME_PATHS)
        out += [p for p in ps if p not in out]
    return tuple(out)


def measured_at(b: Block, all_blocks: list[Block], heads: list[tuple[int, int]],
                git: Git) -> str | None:
    """The commit the block names (the newest), else the last one named before it in its
    section, else in an enclosing section's introduction (see the module)."""
    def newest(words):
        cs = [c for c in (git.commit(w) for w in words) if c]
        return max(cs, key=git.date) if cs else None

    if c := newest(b.hashes):
        return c
    before = [(ln, lv) for ln, lv in heads if ln < b.start]
    if not before:
        return None
    # the innermost section, from its heading to the block
    scopes = [(before[-1][0], b.start)]
    level = before[-1][1]
    for ln, lv in reversed(before):  # enclosing sections: heading to first subsection
        if lv < level:
            first_sub = min((h for h, _ in heads if h > ln), default=b.start)
            scopes.append((ln, first_sub))
            level = lv
    for lo, hi in scopes:
        named = [w for x in all_blocks if lo < x.start and x.end < hi for w in x.hashes]
        for w in reversed(named):
            if c := git.commit(w):
                return c
    return None


def check_file(file: str, git: Git) -> list[Finding]:
    path = git.repo / file
    try:
        text = path.read_text()
    except OSError as e:
        raise UserError(f"{file}: cannot read it ({e.strerror})") from None
    bs, heads = blocks(file, text)
    out = []
    for b in bs:
        if not b.kinds:
            continue
        paths = paths_of(b)
        c = measured_at(b, bs, heads, git)
        named = c is not None
        if not named:
            c = git.last_edit(file, b.start, b.end)
        if c is None:
            out.append(Finding(b, "unknown", None, False, 0, None, paths))
            continue
        n, last = git.since(c, paths)
        status = "stale" if n else ("fresh" if named else "unknown")
        out.append(Finding(b, status, c, named, n, last, paths))
    return out


def doc_files(git: Git) -> list[str]:
    return ["README.md", *sorted(str(p.relative_to(git.repo))
                                 for p in (git.repo / "docs").glob("*.md"))]


def line(f: Finding) -> str:
    b = f.block
    where = f"{b.file}:{b.start}" + (f"-{b.end}" if b.end > b.start else "")
    head = f"{f.status.upper():7} {where:26} {', '.join(b.kinds):25}"
    if f.commit is None:
        return f"{head} no commit named; not committed yet"
    at = f"measured at {f.commit[:7]}" if f.named else \
        f"no commit named; last edited at {f.commit[:7]}"
    if f.changed:
        return (f"{head} {at}; {f.changed} later commit(s) touch {', '.join(f.paths)}, the "
                f"newest {f.last_change[:7]}")
    return f"{head} {at}; no later commit touches {', '.join(f.paths)}"


def main(argv=None) -> int:
    p = Parser(prog="python -m bench.stale", description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", help="docs to read (default README.md and docs/*.md)")
    p.add_argument("--repo", default=".", help="the git work tree (default .)")
    p.add_argument("--all", action="store_true", help="also list the fresh blocks")
    args = p.parse_args(argv)

    def body() -> int:
        git = Git(Path(args.repo))
        found = [f for file in (args.files or doc_files(git)) for f in check_file(file, git)]
        for f in found:
            if args.all or f.status != "fresh":
                print(line(f))
        count = {s: sum(f.status == s for f in found) for s in ("stale", "unknown", "fresh")}
        print(f"{len(found)} figure blocks: {count['stale']} stale, {count['unknown']} "
              f"unknown (no commit named), {count['fresh']} fresh, at HEAD "
              f"{git('rev-parse', '--short', 'HEAD')}")
        return 0

    return run(body)


if __name__ == "__main__":
    sys.exit(main())
