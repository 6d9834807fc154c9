"""The import graph of every module of the project (read with ast, nothing imported): no
import cycles beyond the known ones, and dependencies one way (docs: README "Layout").

Every `import` statement counts, at module level or inside a function: a lazy import is still
a dependency. The known cycles are being removed on their own branches; KNOWN_CYCLES lists
exactly them, so this fails on a new cycle and on a removed one still listed."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hw", "sim", "train", "demo", "explore", "shiftrnn", "bench")

# each a strongly connected component of the module graph, by module name
KNOWN_CYCLES: set[frozenset[str]] = set()  # none left (house-gen and train-trust removed theirs)

# package -> top-level names it must never import
FORBIDDEN = {
    "hw": {"train", "sim", "torch", "demo", "explore", "shiftrnn"},
    "sim": {"train"},
    "train": {"sim"},
}


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module name `name` imports (`from X import y` names X.y when that is a module)."""
    out = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            for a in node.names:
                sub = f"{prefix}.{a.name}"
                out.add(sub if sub in known else prefix)
    return out


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(all imports by module, the imports between the project's own modules)."""
    known = modules()
    every = {m: imports(m, p, known) for m, p in known.items()}
    own = {m: {t for t in ts if t in known and t != m} for m, ts in every.items()}
    return every, own


def cycles(g: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, found = {}, {}, set(), [], set()
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.add(frozenset(comp))
    return found


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e", "d"}, "f": set()}
    assert cycles(g) == {frozenset("abc")}


def test_the_import_graph_has_exactly_the_known_cycles():
    _, own = graph()
    assert len(own) > 100 and "hw.gen.cli" in own["hw.board.bitstream"]  # the graph is real
    assert cycles(own) == KNOWN_CYCLES


def violations(every: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} imports {t}" for m, ts in every.items() for t in ts
                  if t.split(".")[0] in FORBIDDEN.get(m.split(".")[0], ()))


def test_the_rule_sees_a_violation():
    assert violations({"hw.x": {"numpy", "torch.nn"}, "sim.y": {"hw.x", "train.loop"},
                       "train.z": {"hw.x"}}) == ["hw.x imports torch.nn",
                                                 "sim.y imports train.loop"]


def test_dependencies_point_one_way():
    every, _ = graph()
    assert violations(every) == []
