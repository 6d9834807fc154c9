"""Time per training step: QAT `weights` and `hardware` modes against plain torch.nn.GRU/LSTM.

    .venv/bin/python -m bench.train_speed [--hidden 128] [--inputs 49] [--steps 100]
        [--batch 32] [--repeats 5] [--threads 1] [--quant ternary]

One step = forward, cross-entropy at every step through a dense head, backward, Adam step (and
for QAT the shadow-weight clipping). Each configuration runs `repeats` times in turns, so a
machine shared with others slows all of them alike; the table prints the medians and the ratios
to torch measured in this one run. Goals: weights <= 1.3x, hardware <= 4x (reported, not asserted).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from train.cells import Net


class Plain(torch.nn.Module):
    def __init__(self, cell, inputs, hidden, outputs):
        super().__init__()
        self.rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[cell](
            inputs, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, outputs)

    def forward(self, x):
        return self.head(self.rnn(x)[0])

    def clip_shadow_(self):
        pass


def make(kind, cell, a):
    torch.manual_seed(0)
    if kind == "torch":
        return Plain(cell, a.inputs, a.hidden, a.inputs)
    return Net(cell=cell, input_size=a.inputs, hidden=a.hidden, outputs=a.inputs, emit="every",
               quant=a.quant, mode=kind)


def time_steps(net, x, y, n):
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()

    def step():
        logits = net(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                                 y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        net.clip_shadow_()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--inputs", type=int, default=49)
    p.add_argument("--steps", type=int, default=100, help="time steps per sequence")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--iters", type=int, default=5, help="training steps per timing")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quant", default="ternary")
    p.add_argument("--cells", default="gru,lstm")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, a.inputs, (a.batch, a.steps + 1), generator=g)
    x32 = torch.nn.functional.one_hot(ids[:, :-1], a.inputs).float()
    y = ids[:, 1:]
    print(f"hidden {a.hidden}, inputs {a.inputs}, {a.steps} steps x batch {a.batch}, "
          f"quant {a.quant}, {a.threads} thread(s), median of {a.repeats} x {a.iters} steps")
    print(f"{'cell':<5} {'torch ms':>9} {'weights ms':>11} {'ratio':>6} {'hardware ms':>12} "
          f"{'ratio':>6}")
    for cell in a.cells.split(","):
        nets = {k: make(k, cell, a) for k in ("torch", "weights", "hardware")}
        times = {k: [] for k in nets}
        for _ in range(a.repeats):
            for k, net in nets.items():
                x = x32.double() if k == "hardware" else x32
                times[k].append(time_steps(net, x, y, a.iters if k != "hardware" else 1))
        ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
        print(f"{cell:<5} {ms['torch']:9.1f} {ms['weights']:11.1f} "
              f"{ms['weights'] / ms['torch']:5.2f}x {ms['hardware']:12.1f} "
              f"{ms['hardware'] / ms['torch']:5.2f}x")


if __name__ == "__main__":
    main()
