"""train/tasks/: the registry `train.data.load` reads, and no import circle in train/ (the
tasks package replaced train/data.py <-> train/sequences.py, which imported each other)."""

import ast
from pathlib import Path

import pytest

from hw.errors import UserError
from train import config, data, tasks

ROOT = Path(__file__).resolve().parents[1]


def test_every_task_has_a_loader_and_the_options_offer_them_all():
    assert tuple(tasks.LOADERS) == tasks.TASKS == data.TASKS
    assert set(config.TASK_DEFAULTS) == set(tasks.TASKS)
    for name in tasks.TASKS:
        config.Config(task=name).check()  # every registered task is an accepted --task


def test_unknown_task_is_one_line():
    with pytest.raises(UserError, match="task 'mnist' is unknown; tasks are digits, char"):
        data.load("mnist")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: str) -> dict[str, set[str]]:
    """module -> the modules of `package` it imports, at the top or inside a function."""
    files = {_module_name(f): f for f in (ROOT / package).rglob("*.py")}
    graph = {}
    for name, f in files.items():
        is_pkg = f.name == "__init__.py"
        edges = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom):
                base = name if is_pkg else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = node.module if not node.level else \
                    ".".join(p for p in (base, node.module) if p)
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    edges.add(sub if sub in files else target)
        graph[name] = {e for e in edges if e in files and e != name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph, as the modules along it, or None."""
    state = {}

    def visit(m, path):
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return path[path.index(n):] + [n]
            if n not in state:
                found = visit(n, path + [n])
                if found:
                    return found
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m, [m])
            if found:
                return found
    return None


def test_cycle_finds_a_circle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_train_has_no_import_circle():
    graph = import_graph("train")
    assert "train.tasks.sequences" in graph["train.tasks"]  # the walk sees the registry
    assert cycle(graph) is None


def test_the_documented_per_task_defaults_are_the_configs():
    import re

    text = (ROOT / "docs" / "training.md").read_text()
    row = next(ln for ln in text.splitlines() if ln.startswith("| `--epochs`, `--lr`"))
    documented = {name: tuple(float(v) for v in values.split(", "))
                  for name, values in re.findall(r"(\w+) ([\d.]+, [\d.]+, \d+, -?\d+)", row)}
    keys = ("epochs", "lr", "batch", "level_shift")
    assert documented == {name: tuple(float(d[k]) for k in keys)
                          for name, d in config.TASK_DEFAULTS.items()}
