"""The project's float rows against plain torch.nn under the same budget (digits task).

    .venv/bin/python -m bench.float_baseline [--cells gru lstm] [--hidden 32] [--seeds 0 1 2]
        [--epochs 40] [--batch 64] [--torch-lr 0.02 0.01 0.003] [--ours JSON] [--out FILE]

For each cell and seed it trains

- `torch lr=X`: a plain `torch.nn.GRU`/`LSTM` with a `torch.nn.Linear` head on the last step,
  inputs divided by 16, torch's default init, Adam at a constant learning rate X, no clipping;
- `ours`: `python -m train --task digits --quant float --mode weights` with the same epochs and
  batch and everything else as the trainer's defaults (train.loop.run, the real command);

each seed on the split the trainer uses for that seed (train.data.digits(seed), 1438 / 359),
and prints test accuracy side by side with the mean over seeds. `ours` also shows `integer`,
the int16 model file run by hw.reference. Nothing here is asserted; the table is the result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hw.fileio import atomic_write_text
from train import data
from train.config import Config
from train.loop import run


class Plain(torch.nn.Module):
    def __init__(self, cell: str, hidden: int):
        super().__init__()
        self.rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[cell](
            8, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 10)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


def plain_torch(cell: str, hidden: int, seed: int, epochs: int, batch: int, lr: float) -> float:
    task = data.digits(seed=seed)  # the trainer's split: it shuffles with the run's seed
    xs = torch.tensor(task.train.x / 16.0, dtype=torch.float32)
    ys = torch.tensor(task.train.y)
    xt = torch.tensor(task.test.x / 16.0, dtype=torch.float32)
    torch.manual_seed(seed)
    net = Plain(cell, hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        net.train()
        order = rng.permutation(len(xs))
        for i in range(0, len(xs), batch):
            idx = torch.from_numpy(order[i: i + batch])
            loss = torch.nn.functional.cross_entropy(net(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        pred = net(xt).argmax(-1).numpy()
    return float((pred == task.test.y).mean())


def ours(cell: str, hidden: int, seed: int, epochs: int, batch: int, extra: dict) -> dict:
    cfg = Config(task="digits", cell=cell, hidden=hidden, quant="float", mode="weights",
                 seed=seed, epochs=epochs, batch=batch, **extra)
    with tempfile.TemporaryDirectory() as tmp:
        res = run(cfg, tmp, progress=False)
    return {"qat": res["qat"], "integer": res["integer"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--torch-lr", type=float, nargs="*", default=[0.02, 0.01, 0.003])
    p.add_argument("--ours", default="{}",
                   help="JSON of extra Config fields for our run, e.g. '{\"lr\": 0.005}'")
    p.add_argument("--out", help="write the table as JSON here")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    extra = json.loads(a.ours)
    rows = []
    jobs = [(c, s, k) for c in a.cells for s in a.seeds
            for k in [f"torch lr={lr:g}" for lr in a.torch_lr] + ["ours"]]
    for cell, seed, kind in tqdm(jobs, desc="runs", dynamic_ncols=True):
        if kind == "ours":
            r = ours(cell, a.hidden, seed, a.epochs, a.batch, extra)
        else:
            lr = float(kind.split("=")[1])
            r = {"qat": plain_torch(cell, a.hidden, seed, a.epochs, a.batch, lr)}
        rows.append({"cell": cell, "seed": seed, "kind": kind, **r})
        tqdm.write(f"{cell} seed {seed} {kind}: " + ", ".join(f"{k} {v:.4f}" for k, v in r.items()))
    print(f"\ndigits, hidden {a.hidden}, {a.epochs} epochs, batch {a.batch}, seeds {a.seeds}; "
          f"ours: {extra or 'trainer defaults'}")
    print("| cell | model | " + " | ".join(f"seed {s}" for s in a.seeds) + " | mean | int16 mean |")
    print("|---|---|" + "---|" * (len(a.seeds) + 2))
    for cell in a.cells:
        for kind in dict.fromkeys(r["kind"] for r in rows):
            sel = [r for r in rows if r["cell"] == cell and r["kind"] == kind]
            acc = [r["qat"] for r in sel]
            ints = [r["integer"] for r in sel if "integer" in r]
            im = f"{statistics.mean(ints):.4f}" if ints else ""
            print(f"| {cell} | {kind} | " + " | ".join(f"{v:.4f}" for v in acc)
                  + f" | {statistics.mean(acc):.4f} | {im} |")
    if a.out:
        atomic_write_text(Path(a.out), json.dumps({"args": vars(a), "rows": rows}, indent=1)
                          + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
