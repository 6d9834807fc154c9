"""Every relative link in README.md, docs/*.md and results/README.md names a file that exists,
and an anchor (`file.md#heading`, `#heading`) names a heading of that file, as GitHub
renders it. Links inside fenced code blocks and inline code are not links."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[[^\]]*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text: str):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if m:
            mark = m.group(1)[0] * 3
            if fence is None:
                fence = mark
            elif mark == fence:
                fence = None
            continue
        if fence is None:
            yield n, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings (repeats get -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(path.read_text()):
        m = HEADING.match(line)
        if not m:
            continue
        s = slug(m.group(2))
        if s in seen:
            seen[s] += 1
            s = f"{s}-{seen[s]}"
        else:
            seen[s] = 0
        out.add(s)
    return out


def broken_links(files: list[Path], root: Path) -> list[str]:
    """One line per relative link that names a missing file or a heading its file lacks."""
    problems, cache = [], {}
    for md in files:
        for n, line in prose_lines(md.read_text()):
            for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):  # code is not a link
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                    continue
                path, _, anchor = target.partition("#")
                dest = (md.parent / path).resolve() if path else md
                where = f"{md.relative_to(root)}:{n}: {target}"
                if not dest.exists():
                    problems.append(f"{where}: no such file")
                elif anchor and dest.suffix == ".md":
                    if dest not in cache:
                        cache[dest] = anchors(dest)
                    if anchor not in cache[dest]:
                        problems.append(f"{where}: no heading #{anchor} in {dest.name}")
    return problems


def doc_files(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md")),
            root / "results" / "README.md"]


def test_every_relative_link_resolves():
    files = doc_files(ROOT)
    assert all(f.exists() for f in files)
    assert broken_links(files, ROOT) == []


def test_slug_is_githubs():
    assert slug("Small UEA/UCR problems (`ts`, issue 31)") == "small-ueaucr-problems-ts-issue-31"
    assert slug("Starting from a plain torch model (`--init`)") == \
        "starting-from-a-plain-torch-model---init"
    assert slug("Eight epochs (issue 15's budget)") == "eight-epochs-issue-15s-budget"


def test_broken_links_are_found(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "there.txt").write_text("")
    (tmp_path / "README.md").write_text(
        "# Top\n\n## A section (`x`)\n\n[ok](there.txt) [ok](#a-section-x) [ok](docs/b.md#b)\n"
        "[gone](missing.md) [no heading](#nowhere) [web](https://example.org/x.md)\n"
        "```\n[in code](missing-too.md)\n```\n`[inline](missing-three.md)`\n")
    (tmp_path / "docs" / "b.md").write_text("# B\n\n[up](../README.md#top) [bad](../README.md#b)\n")
    got = broken_links([tmp_path / "README.md", tmp_path / "docs" / "b.md"], tmp_path)
    assert got == ["README.md:6: missing.md: no such file",
                   "README.md:6: #nowhere: no heading #nowhere in README.md",
                   "docs/b.md:3: ../README.md#b: no heading #b in README.md"]
