"""A plain torch.nn.GRU trained on digits, then `python -m train --init` with ternary PTQ and
quantization-aware fine-tuning: how much of the float accuracy each recovers.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.init_ptq [--hidden 16] [--finetune 5,10,20]

The plain model is an nn.GRU + nn.Linear trained with Adam (cosine schedule, clipping 1.0, the
trainer's defaults for digits) on exactly the inputs the trainer feeds (the training split's
standardisation, rounded to the input format), saved as a state_dict, and handed to the trainer
with `--init`. Holds equal: the data split, the input format, the hidden size, the seed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from hw.modelfile import Model
from hw.numerics import Formats
from train import data, loop
from train.__main__ import main as train_main


class Plain(torch.nn.Module):
    def __init__(self, inputs: int, hidden: int, outputs: int):
        super().__init__()
        self.gru = torch.nn.GRU(inputs, hidden, batch_first=True)
        self.fc = torch.nn.Linear(hidden, outputs)

    def forward(self, x):
        return self.fc(self.gru(x)[0][:, -1])


def train_plain(hidden: int, epochs: int, seed: int = 0) -> tuple[Plain, float]:
    task = data.digits(seed)
    inputs = loop.Inputs(task, Model("gru", 8, hidden, "pwl", Formats(), [], None,
                                     task.offset, task.scale))
    xs, _, ys = inputs.batch(task.train, np.arange(len(task.train)), torch.float32)
    xt, _, yt = inputs.batch(task.test, np.arange(len(task.test)), torch.float32)
    torch.manual_seed(seed)
    m = Plain(8, hidden, 10)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    steps, batch = math.ceil(len(xs) / 32), 32
    for ep in range(epochs):
        order = np.random.default_rng(seed * 1000 + ep).permutation(len(xs))
        for s in range(steps):
            idx = order[s * batch:(s + 1) * batch]
            for g in opt.param_groups:
                g["lr"] = loop.cosine_lr(0.01, ep * steps + s, epochs * steps)
            loss = torch.nn.functional.cross_entropy(m(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
    with torch.no_grad():
        acc = float((m(xt).argmax(-1) == yt).float().mean())
    return m, acc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--finetune", default="5,10,20", help="epoch counts, comma-separated")
    p.add_argument("--quant", default="ternary")
    a = p.parse_args()
    torch.set_num_threads(1)
    m, acc = train_plain(a.hidden, a.epochs)
    rows = [("plain nn.GRU (float)", acc)]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "plain.pt"
        torch.save(m.state_dict(), ckpt)
        base = ["--init", str(ckpt), "--quant", a.quant, "--no-progress"]
        for i, n in enumerate(int(v) for v in a.finetune.split(",")):
            out = f"{tmp}/ptq{n}"
            assert train_main([*base, "--ptq", "--ptq-finetune", str(n), "--out", out]) == 0
            r = json.loads(Path(out, "train.json").read_text())
            if i == 0:
                rows += [("trainer's float (the same weights)", r["float"]),
                         (f"{a.quant} PTQ", r["ptq"])]
            rows.append((f"{a.quant} PTQ + {n} epochs QAT fine-tuning (lr 0.001), integer",
                         r["integer"]))
            out = f"{tmp}/qat{n}"
            assert train_main([*base, "--epochs", str(n), "--out", out]) == 0
            r = json.loads(Path(out, "train.json").read_text())
            rows.append((f"{a.quant} QAT for {n} epochs from the float weights (lr 0.01), "
                         f"integer", r["integer"]))
    print(f"\ndigits, GRU {a.hidden}, test accuracy ({len(data.digits(0).test)} sequences)")
    print("| model | accuracy | of float |\n|---|---|---|")
    for name, v in rows:
        print(f"| {name} | {100 * v:.2f} % | {v / acc:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
