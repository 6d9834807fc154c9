"""The space file: axes to sweep, the stages each trial runs, and how points are drawn.

A space is TOML (read with the standard library's tomllib)::

    [space]                    # optional
    sampling = "grid"          # every combination of the axes, or "random"
    samples = 8                # random: how many distinct points
    seed = 0                   # random: the sampler's seed

    [stages]
    run = ["train", "verilog", "sim"]   # in this order; "bitstream" may follow
    sim_sequences = 64         # simulate the first N test sequences (0: all)

    [axes]                     # a value or a list of values each; absent axes take a default
    cell = ["gru", "lstm"]
    hidden = [8, 16]

Everything is checked here, before any trial runs: an unknown key, a value of the wrong type or
outside its choices is a UserError naming the key (`python -m explore` prints it on one line
and exits 2). Whether a point trains, fits or simulates is the trial's business, not the
space's. The choices come from the modules that own them (train/, hw/), so a new quantizer or
board needs no change here.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hw.errors import UserError

STAGES = ("train", "verilog", "sim", "bitstream")
AUTO = "auto"  # parallel: the folding hw.gen.fit picks for the board (python -m hw verilog)


def _choices(module: str, name: str) -> tuple:
    """A tuple of names from the module that owns the concept (one home per concept)."""
    import importlib

    value = getattr(importlib.import_module(module), name)
    return tuple(value)


# axis -> (default, kind, choices or None); kind: "str", "int", "bool", "path", "parallel"
AXES = {
    "task": ("digits", "str", ("train.data", "TASKS")),
    "data": (None, "path", None),
    "cell": ("gru", "str", ("train.cells", "CELLS")),
    "quant": ("ternary", "str", ("train.quantizers", "QUANTIZERS")),
    "hidden": (16, "int", None),
    "layers": (1, "int", None),
    "mode": ("hardware", "str", ("train.cells", "MODES")),
    "epochs": (None, "int", None),  # None: the trainer's default for the task
    "seed": (0, "int", None),
    "parallel": (AUTO, "parallel", None),  # lanes (a multiple of the gate rows) or auto
    "simd": (1, "int", None),  # columns per lane a cycle, with an integer parallel
    "storage": ("memory", "str", ("hw.gen.placement", "STORAGES")),
    "board": ("icebreaker", "str", ("hw.board.registry", "BOARDS")),
    "dsp": (True, "bool", None),
}
STAGE_KEYS = {"run": ["train", "verilog", "sim"], "sim_sequences": 0, "simulator": "icarus",
              "clock_mhz": "osc", "baseline": False}
SPACE_KEYS = {"sampling": "grid", "samples": 0, "seed": 0}


@dataclass
class StageSettings:
    """How every trial of the space runs its stages (part of each trial's hash)."""
    run: list[str] = field(default_factory=lambda: ["train", "verilog", "sim"])
    sim_sequences: int = 0  # the first N test sequences; 0: all of them
    simulator: str = "icarus"
    clock_mhz: str = "osc"  # bitstream: "osc" (the board's oscillator, one build), "auto", MHz
    baseline: bool = False  # train a float model first (the record's float metric)


@dataclass
class Space:
    path: Path
    axes: dict[str, list]
    stages: StageSettings
    sampling: str = "grid"
    samples: int = 0
    seed: int = 0

    def points(self) -> list[dict]:
        """Every trial's configuration: the grid in axis order, or a seeded random draw of
        `samples` distinct grid points (the same seed draws the same points)."""
        names = list(self.axes)
        grid = itertools.product(*(self.axes[n] for n in names))
        if self.sampling == "grid":
            return [dict(zip(names, values, strict=True)) for values in grid]
        total = 1
        for n in names:
            total *= len(self.axes[n])
        picks = sorted(random.Random(self.seed).sample(range(total), min(self.samples, total)))
        out = []
        for index in picks:  # mixed-radix decoding, last axis fastest (as itertools.product)
            values, rest = [], index
            for n in reversed(names):
                rest, i = divmod(rest, len(self.axes[n]))
                values.append(self.axes[n][i])
            out.append(dict(zip(names, reversed(values), strict=True)))
        return out


def trial_hash(config: dict, stages: StageSettings) -> str:
    """12 hex digits of the SHA-256 of the configuration and the stage settings."""
    text = json.dumps({"config": config, "stages": asdict(stages)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def load(path) -> Space:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"space file {path} does not exist")
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"space file {path} cannot be read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML: {e}") from None
    where = str(path)
    _known(doc, {"space", "stages", "axes"}, where, "")
    for table in ("space", "stages", "axes"):
        if not isinstance(doc.get(table, {}), dict):
            raise UserError(f"{where}: {table} must be a table ([{table}])")
    sp, st, ax = doc.get("space", {}), doc.get("stages", {}), doc.get("axes", {})
    _known(sp, set(SPACE_KEYS), where, "space.")
    _known(st, set(STAGE_KEYS), where, "stages.")
    _known(ax, set(AXES), where, "axes.")
    axes = {name: _axis(name, ax.get(name, AXES[name][0]), where) for name in AXES}
    space = Space(path, axes, _stage_settings(st, where), **_space_settings(sp, where))
    return space


def _known(table: dict, known: set, where: str, prefix: str) -> None:
    for key in table:
        if key not in known:
            raise UserError(f"{where}: unknown key {prefix}{key} (known: "
                            f"{', '.join(sorted(known))})")


def _axis(name: str, value, where: str) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise UserError(f"{where}: axes.{name} is an empty list")
    default, kind, choices = AXES[name]
    out = []
    for v in values:
        if v is None or (v == "" and default is None):
            out.append(None)
            continue
        bad = {"str": not isinstance(v, str), "path": not isinstance(v, str),
               "bool": not isinstance(v, bool),
               "int": not isinstance(v, int) or isinstance(v, bool) or v < 1 and name != "seed",
               "parallel": not (v in (AUTO, "unrolled") or isinstance(v, int)
                                and not isinstance(v, bool) and v >= 1)}[kind]
        if bad:
            want = {"str": "a string", "path": "a path string", "bool": "true or false",
                    "int": "a positive integer" if name != "seed" else "an integer",
                    "parallel": "a positive integer, 'auto' or 'unrolled'"}[kind]
            raise UserError(f"{where}: axes.{name} must be {want}, not {v!r}")
        if choices is not None and v not in _choices(*choices):
            raise UserError(f"{where}: axes.{name} {v!r} is not one of "
                            f"{', '.join(_choices(*choices))}")
        if kind == "path":
            v = str(Path(v).expanduser().resolve())  # workers may run elsewhere
        out.append(v)
    if len(set(map(repr, out))) != len(out):
        raise UserError(f"{where}: axes.{name} lists a value twice: {values!r}")
    return out


def _stage_settings(st: dict, where: str) -> StageSettings:
    s = StageSettings(**{k: st.get(k, v) for k, v in STAGE_KEYS.items()})
    if not isinstance(s.run, list) or not s.run or any(x not in STAGES for x in s.run):
        raise UserError(f"{where}: stages.run must be a list of {', '.join(STAGES)}, "
                        f"not {s.run!r}")
    if s.run != [x for x in STAGES if x in s.run] or s.run[0] != "train":
        raise UserError(f"{where}: stages.run must start with train and keep the order "
                        f"{' -> '.join(STAGES)}, not {s.run!r}")
    for k in s.run:
        needs = {"sim": "verilog", "bitstream": "verilog", "verilog": "train"}.get(k)
        if needs and needs not in s.run:
            raise UserError(f"{where}: stages.run has {k} without {needs}")
    if not isinstance(s.sim_sequences, int) or isinstance(s.sim_sequences, bool) \
            or s.sim_sequences < 0:
        raise UserError(f"{where}: stages.sim_sequences must be an integer >= 0 (0: all), "
                        f"not {s.sim_sequences!r}")
    if s.simulator not in ("icarus", "verilator"):
        raise UserError(f"{where}: stages.simulator must be icarus or verilator, "
                        f"not {s.simulator!r}")
    clock = s.clock_mhz
    if not (clock in ("osc", "auto") or isinstance(clock, (int, float))
            and not isinstance(clock, bool) and clock > 0):
        raise UserError(f"{where}: stages.clock_mhz must be 'osc', 'auto' or a positive "
                        f"number of MHz, not {clock!r}")
    if not isinstance(s.baseline, bool):
        raise UserError(f"{where}: stages.baseline must be true or false, not {s.baseline!r}")
    return s


def _space_settings(sp: dict, where: str) -> dict:
    out = {k: sp.get(k, v) for k, v in SPACE_KEYS.items()}
    if out["sampling"] not in ("grid", "random"):
        raise UserError(f"{where}: space.sampling must be grid or random, "
                        f"not {out['sampling']!r}")
    for k in ("samples", "seed"):
        if not isinstance(out[k], int) or isinstance(out[k], bool) or out[k] < 0:
            raise UserError(f"{where}: space.{k} must be an integer >= 0, not {out[k]!r}")
    if out["sampling"] == "random" and out["samples"] < 1:
        raise UserError(f"{where}: space.samples must be at least 1 with random sampling")
    return out
