"""The import graph of hw/, read from the source (every import statement, those inside
functions too): no circle, and nothing above it (torch, train/, sim/)."""

from __future__ import annotations

import ast
from pathlib import Path

HW = Path(__file__).resolve().parent.parent / "hw"


def modules() -> dict[str, Path]:
    out = {}
    for p in HW.rglob("*.py"):
        parts = list(p.relative_to(HW.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imports(name: str, path: Path, known) -> set[str]:
    """The modules `name` imports: `from x import y` counts as x.y where that is a module."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1]
                                + ([node.module] if node.module else []))
            else:
                base = node.module
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return out


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_hw_has_no_import_circle():
    mods = modules()
    assert "hw.gen.topplan" in mods and "hw.cell" in mods
    edges = {n: {m for m in imports(n, p, mods) if m in mods and m != n}
             for n, p in mods.items()}
    assert circles(edges) == []


def test_the_circle_finder_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_hw_imports_nothing_above_it():
    mods = modules()
    for name, path in mods.items():
        above = {m for m in imports(name, path, mods)
                 if m.split(".")[0] in ("torch", "train", "sim")}
        assert not above, f"{name} imports {sorted(above)}"
