"""The run folder: whether a new run may write into it, and what it leaves behind on failure.

`python -m train` (and `shiftrnn.train`) never replaces a run silently. A folder that holds a
run (its `checkpoint.pt`, or any of the files the trainer writes) is refused unless `--resume`
continues it or `--overwrite` replaces it; the refusal is one line that says which flag fits.
Library callers of `train.loop.run` that manage their own folders (explore, bench) skip this
check. This module does not touch torch.
"""

from __future__ import annotations

import json
from pathlib import Path

from hw.errors import UserError

from .config import Config

# what train.loop.run writes into a run folder (--overwrite removes exactly these)
RUN_FILES = ("checkpoint.pt", "model.json", "testset.npz", "train.json", "curves.png")


def remove_if_empty(out: Path, existed: bool) -> bool:
    """Remove the run folder this run created if nothing was written into it."""
    if not existed and out.is_dir() and not any(out.iterdir()):
        out.rmdir()
        return True
    return False


def remove_run_files(out: Path) -> None:
    """--overwrite: the old run's files go before the new run writes its first one, so the
    folder never mixes the two runs (later stages' files, top.v and the rest, stay)."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)


def _differs(saved: dict, cfg: Config) -> str | None:
    """The first option where the saved run and cfg differ, as `--name THEIRS there, MINE
    here`; None when they are the same run."""
    try:
        theirs = Config.from_dict(saved).as_dict()
    except (UserError, TypeError):
        return "a configuration this version cannot read"
    mine = cfg.as_dict()
    for k, v in mine.items():
        if theirs.get(k) != v:
            return f"--{k.replace('_', '-')} {theirs.get(k)!r} there, {v!r} here"
    return None


def _finished(out: Path, saved: dict) -> bool:
    """train.json is written last, atomically: a run is finished when it exists and describes
    the checkpoint's run (not one an older trainer replaced without a word)."""
    try:
        done = json.loads((out / "train.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(done, dict) and done.get("config") == saved


def check_run_folder(out, cfg: Config, *, resume: bool = False, overwrite: bool = False,
                     flags: tuple[str, str] = ("--resume", "--overwrite")) -> None:
    """Raise UserError unless a run of `cfg` may start in `out` (see the module docstring);
    the messages name the two choices as `flags` (the Python API: its keyword arguments)."""
    out = Path(out)
    res, ovw = flags
    if resume and overwrite:
        raise UserError(f"{res} and {ovw} exclude each other: {res} continues the run in "
                        f"{out}, {ovw} starts it again")
    if resume or overwrite or not out.is_dir():
        return
    present = [name for name in RUN_FILES if (out / name).exists()]
    if not present:
        return
    if "checkpoint.pt" not in present:
        raise UserError(f"{out} holds {', '.join(present)} of another run; choose another "
                        f"run folder, or replace them with {ovw}")
    from .checkpoint import load_checkpoint  # torch, only for a folder that holds a run

    state = load_checkpoint(out / "checkpoint.pt", f"--out {out}")
    saved, other = state["config"], _differs(state["config"], cfg)
    if _finished(out, saved):
        if other:
            raise UserError(f"{out} holds another finished run ({other}); choose another "
                            f"run folder, or replace it with {ovw}")
        raise UserError(f"{out} already holds this run, finished; {res} writes its outputs "
                        f"again, {ovw} trains it again")
    history = state.get("history") or []
    where = (f"stopped after {history[-1].get('phase')} epoch {history[-1].get('epoch')}"
             if history and isinstance(history[-1], dict) else "stopped before its first epoch")
    if other:
        raise UserError(f"{out} holds an unfinished run with other options ({other}; {where}); "
                        f"continue it with {res}, or replace it with {ovw}")
    raise UserError(f"{out} holds an unfinished run of these options ({where}); continue it "
                    f"with {res}, or start it again with {ovw}")
