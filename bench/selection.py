"""Which epoch to keep: every selection rule of train/select.py applied to the same runs.

    .venv/bin/python -m bench.selection [--set digits demo] [--seeds 0 1 2] [--patience 0]
        [--out FILE] [--from FILE]

Each configuration of the sets is trained once per seed with the real trainer
(`train.loop.run`); after every epoch the bench also scores the net on the TEST split (the
trainer never does; here it only reports). A rule looks at the validation records alone
(`train.select.choose`), so one run gives the epoch every rule would have kept and that
epoch's test accuracy: in a single-phase run the rule changes nothing but which epoch is
exported, so this is what a run with `--select RULE` exports (the bench checks that for the
run's own rule: its figure equals `train.json`'s `qat`). `--patience P` adds early stopping
after P epochs to each rule: training up to the stop is the same run, so it is simulated on
the same records too.

Sets: `digits`, docs/training.md's table (GRU, RNN, LSTM x ternary, pow2-ternary,
exponential, binary, float, hidden 32, hardware mode, task defaults); `demo`, the demo's
models (ternary GRU 16 with its float baseline, which trains in weights mode, and an int8 GRU
16). The table gives the mean test accuracy over the seeds per configuration and rule.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from hw.fileio import atomic_write_text
from train import select
from train.config import Config
from train.loop import evaluate, run


@dataclass
class Job:
    label: str
    config: dict = field(default_factory=dict)  # Config fields (seed added per run)


SCHEMES = ("ternary", "pow2-ternary", "exponential", "binary", "float")
SETS = {
    "digits": [Job(f"{c} 32 {q}", dict(task="digits", cell=c, hidden=32, quant=q,
                                        mode="hardware"))
               for c in ("gru", "rnn", "lstm") for q in SCHEMES],
    "demo": [Job("gru 16 ternary", dict(task="digits", cell="gru", hidden=16, quant="ternary",
                                        mode="hardware", baseline=True)),
             Job("gru 16 int8", dict(task="digits", cell="gru", hidden=16, quant="int8",
                                     mode="hardware"))],
}


def commit() -> str:
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[1])
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    return r.stdout.strip() + ("+dirty" if dirty else "")


def trace(cfg: Config) -> tuple[dict, list[dict]]:
    """Train cfg; (train.json's results, per-phase lists of epoch records with `test`)."""
    phases: dict[str, list[dict]] = {}

    def on_epoch(ph, rec, net, inputs):
        phases.setdefault(ph["name"], []).append(
            {**rec, "test": evaluate(net, inputs, inputs.task.test)[0],
             "mode": ph["mode"], "quant": ph["quant"]})

    with tempfile.TemporaryDirectory() as tmp:
        res = run(cfg, tmp, progress=False, on_epoch=on_epoch)
    return res, [{"phase": k, "records": v} for k, v in phases.items()]


def pick(records: list[dict], rule: str, metric: str, patience: int = 0) -> dict:
    """The record a run with --select rule --patience P ends its phase with."""
    upto = records
    for n in range(1, len(records) + 1):
        if select.stop_after(records[:n], rule, metric, patience):
            upto = records[:n]
            break
    epoch = select.choose(upto, rule, metric)
    return next(r for r in records if r["epoch"] == epoch)


def columns(rules, patience) -> list[tuple[str, int]]:
    return [(r, p) for p in patience for r in rules]


def col_name(rule: str, p: int) -> str:
    return rule if not p else f"{rule} P={p}"


def table(runs: list[dict], rules, patience, metric: str = "accuracy",
          against: str = "metric") -> str:
    """Markdown: per (label, phase) row the mean over seeds of the kept epoch's test figure
    (in %) per rule, then the mean over the rows, the rows where each rule is best, and per
    run the difference to the rule `against` (the same run: only the kept epoch differs)."""
    cols = columns(rules, patience)
    keys = list(dict.fromkeys((r["label"], r["phase"]) for r in runs))
    lines = ["| model | seeds | " + " | ".join(col_name(*c) for c in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    means = {c: [] for c in cols}
    epochs = {c: [] for c in cols}
    wins = {c: 0 for c in cols}
    for label, phase in keys:
        sel = [r for r in runs if (r["label"], r["phase"]) == (label, phase)]
        row = {}
        for c in cols:
            kept = [pick(r["records"], c[0], metric, c[1]) for r in sel]
            row[c] = 100 * statistics.mean(k["test"] for k in kept)
            means[c].append(row[c])
            epochs[c].extend(k["epoch"] for k in kept)
        best = max(row.values())
        for c in cols:
            wins[c] += abs(row[c] - best) < 1e-9
        name = label if phase == "qat" else f"{label} ({phase} baseline)"
        lines.append(f"| {name} | {len(sel)} | " + " | ".join(f"{row[c]:.2f}" for c in cols)
                     + " |")
    lines.append("| **mean** | | " + " | ".join(f"**{statistics.mean(means[c]):.2f}**"
                                                for c in cols) + " |")
    lines.append("| rows where best (ties count for each) | | "
                 + " | ".join(str(wins[c]) for c in cols) + " |")
    lines.append("| mean kept epoch | | " + " | ".join(f"{statistics.mean(epochs[c]):.1f}"
                                                    for c in cols) + " |")
    if against in rules:  # paired per run: the same training, another epoch kept
        diffs = {c: [100 * (pick(r["records"], c[0], metric, c[1])["test"]
                            - pick(r["records"], against, metric)["test"]) for r in runs]
                 for c in cols}
        lines.append(f"| difference to {against} per run, mean (standard error) | "
                     f"{len(runs)} | " + " | ".join(
                         f"{statistics.mean(d):+.2f} ({statistics.stdev(d) / len(d) ** 0.5:.2f})"
                         if len(d) > 1 else f"{d[0]:+.2f}" for d in diffs.values()) + " |")
        lines.append(f"| runs better / worse than {against} | | " + " | ".join(
            f"{sum(x > 0 for x in d)} / {sum(x < 0 for x in d)}" for d in diffs.values()) + " |")
    return "\n".join(lines)


def sweep(jobs: list[Job], seeds, progress: bool = True) -> list[dict]:
    runs = []
    todo = [(j, s) for j in jobs for s in seeds]
    for job, seed in tqdm(todo, desc="runs", disable=not progress, dynamic_ncols=True):
        cfg = Config(**job.config, seed=seed).check()
        res, phases = trace(cfg)
        for ph in phases:
            # the bench's reading of the run's own rule gives what the trainer exported
            own = pick(ph["records"], cfg.select, res["metric"], cfg.patience)["test"]
            if own != res[ph["phase"]]:
                raise AssertionError(f"{job.label} seed {seed} {ph['phase']}: rule "
                                     f"{cfg.select} keeps test {own}, the run has "
                                     f"{res[ph['phase']]}")
            keep = ("epoch", "loss", f"train_{res['metric']}", f"valid_{res['metric']}",
                    "valid_loss", "test")
            ph["records"] = [{k: round(r[k], 6) if isinstance(r[k], float) else r[k]
                              for k in keep if k in r} for r in ph["records"]]
            runs.append({"label": job.label, "seed": seed, "exported": res[ph["phase"]],
                         "seconds": res["seconds"], **ph})
        tqdm.write(f"{job.label} seed {seed}: qat {res['qat']:.4f} ({res['seconds']:.0f} s)")
    return runs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", nargs="+", default=["digits", "demo"], choices=sorted(SETS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--rules", nargs="+", default=list(select.RULES), choices=select.RULES)
    p.add_argument("--patience", type=int, nargs="+", default=[0],
                   help="early-stopping patience values to add (0: none)")
    p.add_argument("--out", help="also write every run's records as JSON here")
    p.add_argument("--from", dest="src", help="print the table of a JSON written by --out")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    if a.src:
        saved = json.loads(Path(a.src).read_text())
        runs, head = saved["runs"], saved["head"]
    else:
        jobs = [j for s in a.set for j in SETS[s]]
        at = commit()  # before the runs: the code they ran
        runs = sweep(jobs, a.seeds)
        head = (f"sets {' '.join(a.set)}, seeds {' '.join(map(str, a.seeds))}, commit "
                f"{at}: mean test accuracy (%) of the epoch each rule keeps")
        if a.out:
            atomic_write_text(Path(a.out), json.dumps({"head": head, "runs": runs}) + "\n")
    print(head)
    print(table(runs, a.rules, a.patience))
    return 0


if __name__ == "__main__":
    sys.exit(main())
