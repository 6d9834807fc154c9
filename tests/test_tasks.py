"""train/tasks/: the registry `train.data.load` reads, and the per-task defaults the docs give.
(tests/test_imports.py checks that train/data.py and train/sequences.py no longer import each
other.)"""

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


def test_the_documented_per_task_defaults_are_the_configs():
    import re

    text = (ROOT / "docs" / "training.md").read_text()
    row = next(ln for ln in text.splitlines() if ln.startswith("| `--epochs`, `--lr`"))
    documented = {name: tuple(float(v) for v in values.split(", "))
                  for name, values in re.findall(r"(\w+) ([\d.]+, [\d.]+, \d+, -?\d+)", row)}
    keys = ("epochs", "lr", "batch", "level_shift")
    assert documented == {name: tuple(float(d[k]) for k in keys)
                          for name, d in config.TASK_DEFAULTS.items()}
