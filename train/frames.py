"""`--frame K`: K consecutive time steps of a sequence task fed as one step of K x F inputs.

`--frame auto` (the `ts` task's default) picks K so that the longest training case takes at
most AUTO_STEPS steps. On GunPoint, ArrowHead and PickupGestureWiimoteZ (150 to 361 values a
case) it lifted a GRU 32 from near chance to the archive's 1-NN DTW (docs/experiments.md, "Small
UEA/UCR problems").

A recurrent cell that reads a long univariate series one value per step must carry what it
saw through hundreds of steps; with K values per step it takes 1/K of the steps, and the
hardware runs 1/K of the recurrent passes per sample. The model file then has K x F inputs
(step t holds the original steps tK .. tK + K - 1, channel-minor), and whatever feeds it (the
test set the trainer writes, a host) groups the samples the same way; a sequence whose length
is not a multiple of K ends with a step padded with zeros after the input transform, as a
shorter sequence's padded steps are.

This module does not touch torch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hw.errors import UserError

from .data import Split, Task


def _stack(split: Split, k: int, fill: np.ndarray) -> Split:
    n, t, f = split.x.shape
    steps = -(-t // k)
    x = np.zeros((n, steps * k, f), dtype=split.x.dtype)
    x[:, :t] = split.x
    # steps past a sequence's end hold `fill`: the value the input transform maps to 0
    past = np.arange(steps * k)[None, :] >= split.lengths[:, None]
    x[past] = fill
    return Split(x.reshape(n, steps, k * f), -(-split.lengths // k), split.y)


AUTO_STEPS = 32  # --frame auto: the fewest steps per step that bring the longest case to this


def resolve(frame: int | str, task: Task) -> int:
    """--frame's K: the number, or for `auto` the smallest K that brings the longest training
    sequence to AUTO_STEPS steps or fewer (1 for tasks it does not apply to)."""
    if frame != "auto":
        return int(frame)
    if task.onehot or task.emit != "last":
        return 1
    return max(1, -(-int(task.train.lengths.max()) // AUTO_STEPS))


def stack(task: Task, k: int) -> Task:
    """The task with K steps per step (k = 1: the task itself)."""
    if k == 1:
        return task
    if task.onehot or task.emit != "last":
        raise UserError(f"--frame {k} needs a task with one label per sequence and real "
                        f"features, not {task.name}")
    fill = task.offset if task.offset is not None else np.zeros(task.input_size)
    splits = [None if s is None else _stack(s, k, fill)
              for s in (task.train, task.valid, task.test)]
    # everything else (classes, where the cases came from) is the task's: framing keeps cases
    return replace(task, input_size=k * task.input_size, train=splits[0], valid=splits[1],
                   test=splits[2], offset=None if task.offset is None else np.tile(task.offset, k),
                   scale=None if task.scale is None else np.tile(task.scale, k))
