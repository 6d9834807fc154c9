"""Which epoch of a training phase to keep: the selection rules and early stopping.

A rule looks only at the per-epoch validation records of one phase (`valid_loss`, the mean
cross-entropy in nats, and `valid_<metric>`, accuracy or bits per character) and names the
epoch whose weights the phase ends with (exported, and fine-tuned from). The trainer
(`train/loop.py`) keeps the weights of the epoch the rule names so far after every epoch;
every rule here names an epoch that it also named right after that epoch, so keeping those
weights online loses nothing. `bench/selection.py` applies every rule to the same runs.

This module does not touch torch or the test split.
"""

from __future__ import annotations

import math

# `metric` was the only rule before issue 31: on digits' 217 validation images one image is
# 0.46 points, so an early lucky peak won (docs/experiments.md, "Which epoch to keep").
RULES = ("loss", "metric", "metric-last", "metric-loss", "last")
RULE_HELP = {
    "loss": "the lowest validation loss (cross-entropy)",
    "metric": "the best validation metric, the first epoch that reached it",
    "metric-last": "the best validation metric, the last epoch that reached it",
    "metric-loss": "the best validation metric, ties broken by the lower validation loss",
    "last": "the last epoch (no selection)",
}


def _key(rec: dict, rule: str, metric: str) -> tuple:
    """A key to maximise; records without the figure (from an older trainer) rank last."""
    loss = rec.get("valid_loss", math.inf)
    score = rec.get(f"valid_{metric}")
    if score is None:
        score = -math.inf if metric == "accuracy" else math.inf
    better = score if metric == "accuracy" else -score  # bpc: lower is better
    if rule == "loss":
        return (-loss,)
    if rule in ("metric", "metric-last"):
        return (better,)
    if rule == "metric-loss":
        return (better, -loss)
    raise ValueError(f"selection rule {rule!r} is not one of {', '.join(RULES)}")


def choose(records: list[dict], rule: str, metric: str = "accuracy") -> int:
    """The epoch (1-based, `records[i]["epoch"]`) that `rule` keeps among a phase's records."""
    if not records:
        raise ValueError("no epoch to choose from")
    if rule == "last":
        return records[-1]["epoch"]
    keys = [_key(r, rule, metric) for r in records]
    best = max(keys)
    hits = [r["epoch"] for r, k in zip(records, keys, strict=True) if k == best]
    return hits[-1] if rule == "metric-last" else hits[0]


def stop_after(records: list[dict], rule: str, metric: str, patience: int) -> bool:
    """Early stopping: `patience` epochs (0: never) have passed since the epoch the rule keeps."""
    if not patience or not records:
        return False
    return records[-1]["epoch"] - choose(records, rule, metric) >= patience
