"""Plain torch on a character task, next to the project's float rows under the same budget.

    .venv/bin/python -m bench.char_float_baseline --data ../shared/data/ptb_char \\
        [--cells gru lstm] [--hidden 128] [--epochs 8] [--batch 32] [--seeds 0]
        [--torch-lr 0.002 0.005 0.01] [--schedule constant cosine] [--ours RECORD ...]
        [--out FILE]

`torch lr=X (schedule)`: one-hot inputs into a plain `torch.nn.GRU`/`LSTM` (torch's default
init and exact sigmoid/tanh) with a `torch.nn.Linear` head at every step, Adam at rate X,
constant or cosine-decayed to 0 over the run, gradient norm clipped at 1.0, the same
sequences as the trainer (train.data.char: `seq_len` symbols, the state reset at each), the
same epochs and batch, the training sequences shuffled each epoch. Test bits per symbol over
every target, with hw.metrics.bits_per_symbol as the trainer counts them.

`ours`: the `float` rows of bench.char_ablation records (`--ours`, one per seed), read, not
retrained: each record names its cell, size, epochs and batch, and a row is shown only
where they equal this run's. Nothing is asserted; the table is the result.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hw.errors import UserError
from hw.fileio import atomic_write_text
from hw.metrics import bits_per_symbol
from train import data
from train.loop import FLOAT_LOGITS

from .char_ablation import load_records


class Plain(torch.nn.Module):
    def __init__(self, cell: str, vocab: int, hidden: int):
        super().__init__()
        self.vocab = vocab
        self.rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](vocab, hidden,
                                                                     batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.one_hot(ids, self.vocab).float()
        return self.head(self.rnn(x)[0])


def bpc(net: Plain, split: data.Split, batch: int = 256) -> float:
    """Bits per symbol over every target of the split, as the trainer counts them
    (hw.metrics.bits_per_symbol on real logits; -1 targets are padding)."""
    net.eval()
    with torch.no_grad():
        logits = [net(torch.from_numpy(split.x[i:i + batch])).numpy()
                  for i in range(0, len(split), batch)]
    return bits_per_symbol(np.concatenate(logits), FLOAT_LOGITS, split.y)


def plain_torch(task: data.Task, cell: str, hidden: int, seed: int, epochs: int, batch: int,
                lr: float, schedule: str, progress: bool = True) -> dict:
    torch.manual_seed(seed)
    net = Plain(cell, task.input_size, hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    n = len(task.train)
    total = epochs * -(-n // batch)
    step = 0
    valid = []
    for ep in range(epochs):
        net.train()
        order = rng.permutation(n)
        bar = tqdm(range(0, n, batch), desc=f"{cell} lr={lr:g} {schedule} {ep + 1}/{epochs}",
                   leave=False, disable=not progress, dynamic_ncols=True)
        for i in bar:
            if schedule == "cosine":
                for g in opt.param_groups:
                    g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
            idx = order[i:i + batch]
            ids = torch.from_numpy(task.train.x[idx])
            y = torch.from_numpy(task.train.y[idx]).reshape(-1)
            logits = net(ids).reshape(len(y), -1)
            loss = torch.nn.functional.cross_entropy(logits, y, ignore_index=-1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            step += 1
        valid.append(bpc(net, task.valid) if task.valid is not None else float("nan"))
    return {"valid": valid, "test": bpc(net, task.test)}


def ours_rows(records: list[Path], cell: str, hidden: int, epochs: int, batch: int) -> list:
    """(seed, test BPC) of the `float` rows of char_ablation records that match the budget."""
    out = []
    for rec in records:
        if not rec.is_file():
            raise UserError(f"record {rec} does not exist")
        for r in load_records(rec):
            c = r["config"]
            if (r["name"] == "float" and c["cell"] == cell and c["hidden"] == hidden
                    and c["epochs"] == epochs and c["batch"] == batch):
                out.append((c["seed"], r["qat"]))
    return sorted(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="a char task path (train.data.char)")
    p.add_argument("--cells", nargs="+", choices=["gru", "lstm"], default=["gru", "lstm"])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--torch-lr", type=float, nargs="+", default=[0.002, 0.005, 0.01])
    p.add_argument("--schedule", nargs="+", choices=["constant", "cosine"],
                   default=["constant", "cosine"])
    p.add_argument("--ours", type=Path, nargs="*", default=[],
                   help="bench.char_ablation records whose float rows to show")
    p.add_argument("--out", type=Path, help="write the runs as JSON here")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    try:
        task = data.char(a.data, a.seq_len)
        ours = {c: ours_rows(a.ours, c, a.hidden, a.epochs, a.batch) for c in a.cells}
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    jobs = [(c, s, lr, sch) for c in a.cells for sch in a.schedule for lr in a.torch_lr
            for s in a.seeds]
    rows = []
    for cell, seed, lr, sch in tqdm(jobs, desc="runs", disable=a.no_progress,
                                    dynamic_ncols=True):
        r = plain_torch(task, cell, a.hidden, seed, a.epochs, a.batch, lr, sch,
                        progress=not a.no_progress)
        rows.append({"cell": cell, "seed": seed, "lr": lr, "schedule": sch, **r})
        tqdm.write(f"{cell} seed {seed} torch lr={lr:g} {sch}: valid {r['valid'][-1]:.4f}, "
                   f"test {r['test']:.4f}")
        if a.out:
            atomic_write_text(a.out, json.dumps({"args": {k: str(v) for k, v in
                                                          vars(a).items()}, "rows": rows},
                                                indent=1) + "\n")
    print(f"\n{a.data}, hidden {a.hidden}, {a.epochs} epochs, batch {a.batch}, test BPC")
    print("| cell | model | " + " | ".join(f"seed {s}" for s in a.seeds) + " | mean |")
    print("|---|---|" + "---|" * (len(a.seeds) + 1))
    for cell in a.cells:
        for sch in a.schedule:
            for lr in a.torch_lr:
                v = [r["test"] for r in rows if (r["cell"], r["schedule"], r["lr"]) ==
                     (cell, sch, lr)]
                print(f"| {cell} | torch lr={lr:g} ({sch}) | "
                      + " | ".join(f"{x:.3f}" for x in v) + f" | {statistics.mean(v):.3f} |")
        mine = dict(ours[cell])
        if mine:
            v = [mine.get(s) for s in a.seeds]
            got = [x for x in v if x is not None]
            print(f"| {cell} | ours (float, records) | "
                  + " | ".join("-" if x is None else f"{x:.3f}" for x in v)
                  + (f" | {statistics.mean(got):.3f} |" if got else " | - |"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
