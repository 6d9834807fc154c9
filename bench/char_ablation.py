"""Runs under one budget: a table of the test metric per variant and a validation plot.

    .venv/bin/python -m bench.char_ablation --data ../shared/data/ptb_char \\
        --base '{"cell": "gru", "hidden": 128, "mode": "weights", "epochs": 1, "batch": 64}' \\
        --variant float '{"quant": "float"}' --variant ternary '{"quant": "ternary"}' \\
        --record results/char-ablation.jsonl [--plot results/char-ablation.png]

Each `--variant NAME JSON` is one `python -m train --task char` run (train.loop.run) with the
`--base` fields and the variant's on top; every variant gets the same budget unless it
overrides one. Runs go one after another (the machine is shared); each finished run appends
one JSON line to `--record` (name, config, validation BPC per epoch, test BPC of the torch
model `qat` and of the exported integer model `integer`, seconds), so an interrupted session
keeps what it finished, and a name already in the record is not run again. At the end the
table of every record line whose config matches is printed, with test BPC minus the `float`
variant's; `--table-only` prints it without training. The run folders go to `--runs`
(default build/char-ablation/NAME).

Besides Config fields a variant may hold diagnostic changes that are not trainer options
(they answer "where is the gap?", not "what to train with"): `diag_head_float` (the head
trains in float; the final test metric quantizes it, so read the validation BPC),
`diag_init_scale` (the shadow weights' init times a factor), `diag_init_match` (shadow init
such that the quantized weights have torch init's variance), `diag_ih_shift` (the input
matrix's level times 2**shift) and `diag_matrix` (per matrix, `ih`, `hh` or `head`, a
quantizer that replaces the run's for that matrix in training and in the torch test metric
`qat`: `float` keeps it full precision and unclipped; the exported model file, and so
`integer`, quantizes every matrix with the run's quantizer, so the diagnostic's figures are
the validation BPC and `qat`; use it with `"lr_scale": "none"`). They act on the fresh net
right after train.loop.make_net. A record line also keeps the run's `float` and `ptq` test
BPC where it has them (`--ptq` runs).

`--resume` continues a variant whose run folder holds a checkpoint from its last finished
epoch (the same configuration or an error; `seconds` then counts the interrupted part too),
so a run cut short by the end of a session is not started again.

`--task` (default `char`) runs another task of train.data the same way, for example the spoken
digits (`--task fsdd --data ../shared/data/fsdd/recordings`); the record then holds that task's
metric (`metric`, accuracy for fsdd) in the same places (`valid`, `train`, `qat`, `integer`).
Every record line names its `metric` and the epoch validation selected (`selected_epoch`: the
exported model's, which `qat` and `integer` measure).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

from hw.errors import UserError
from hw.fileio import atomic_save_png
from train.config import Config


def load_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


DIAGNOSTICS = ("diag_head_float", "diag_init_scale", "diag_init_match", "diag_ih_shift",
               "diag_matrix")
MATRIX_KEYS = ("ih", "hh", "head")


def _matrix_key(module, name: str) -> str:
    from train.cells import QuantLinear

    if isinstance(module, QuantLinear):
        return "head"
    return "ih" if name.startswith("weight_ih") else "hh"


@contextmanager
def matrix_quantizers():
    """While open, a module's `_diag_matrix` ({ih|hh|head: quantizer}) replaces its quantizer
    for those matrices in the forward pass and in the shadow weights' clipping."""
    from train.cells import QuantMixin

    qweight, clip = QuantMixin.qweight, QuantMixin.clip_shadow_

    def patched_qweight(self, name, dtype=None):
        quant = getattr(self, "_diag_matrix", {}).get(_matrix_key(self, name))
        if quant is None or self.quant == "float":
            return qweight(self, name, dtype)
        if quant == "float":
            w = getattr(self, name)
            return w.to(dtype or w.dtype)
        own, self.quant = self.quant, quant
        try:
            return qweight(self, name, dtype)
        finally:
            self.quant = own

    def patched_clip(self):
        over = getattr(self, "_diag_matrix", {})
        own = self._exp
        self._exp = {n: e for n, e in own.items() if _matrix_key(self, n) not in over}
        try:
            clip(self)
        finally:
            self._exp = own
        from train import quantizers as Q
        for n, e in own.items():
            quant = over.get(_matrix_key(self, n))
            bound = None if quant in (None, "float") else Q.clip_bound(quant, e, self.level_rule)
            if bound is not None:
                with torch.no_grad():
                    getattr(self, n).clamp_(-bound, bound)

    QuantMixin.qweight, QuantMixin.clip_shadow_ = patched_qweight, patched_clip
    try:
        yield
    finally:
        QuantMixin.qweight, QuantMixin.clip_shadow_ = qweight, clip


def _diagnose(net, cfg: Config, diag: dict) -> None:
    """Apply the diagnostic changes to a freshly made net (not trainer options; see above)."""
    from train import quantizers as Q

    rnn = net.rnn
    if diag.get("diag_matrix"):
        from train import quantizers as Q
        over = dict(diag["diag_matrix"])
        for key, quant in over.items():
            if key not in MATRIX_KEYS:
                raise UserError(f"diag_matrix: {key!r} is not one of {', '.join(MATRIX_KEYS)}")
            if quant not in Q.QUANTIZERS:
                raise UserError(f"diag_matrix: quantizer {quant!r} is not one of "
                                f"{', '.join(Q.QUANTIZERS)}")
        rnn._diag_matrix = {k: v for k, v in over.items() if k != "head"}
        if "head" in over:
            net.head._diag_matrix = {"head": over["head"]}
    if diag.get("diag_ih_shift"):  # the input matrix's level times 2**shift, re-initialised
        rnn._exp["weight_ih_l0"] += diag["diag_ih_shift"]
        if Q.scheme_of(rnn.quant) in ("binary", "ternary", "pow2-ternary", "exponential"):
            level = 2.0 ** rnn._exp["weight_ih_l0"]
            with torch.no_grad():
                rnn.weight_ih_l0.uniform_(-level, level)
    if diag.get("diag_init_match"):  # quantized weights start with torch init's variance
        with torch.no_grad():
            for m in net.quant_modules():
                for n, e in m._exp.items():
                    level, var = 2.0**e, 1.0 / (3 * cfg.hidden)
                    b = (level / 2) / (1 - var / level**2)
                    getattr(m, n).uniform_(-b, b)
    if diag.get("diag_init_scale") is not None:  # shadow weights' init times a factor
        with torch.no_grad():
            for m in net.quant_modules():
                for n in m._exp:
                    getattr(m, n).mul_(diag["diag_init_scale"])
    if diag.get("diag_head_float"):  # a float head in training (the test metric quantizes it)
        net.head.quant = "float"
        with torch.no_grad():
            bound = 1 / math.sqrt(cfg.hidden)
            net.head.weight.uniform_(-bound, bound)


def run_variant(name: str, fields: dict, runs: Path, task: str = "char",
                resume: bool = False) -> dict:
    from train import loop

    fields = dict(fields)
    diag = {k: fields.pop(k) for k in DIAGNOSTICS if k in fields}
    cfg = Config(task=task, **fields).check()
    make_net = loop.make_net

    def patched(cfg_, task, quant, mode):
        net = make_net(cfg_, task, quant, mode)
        _diagnose(net, cfg_, diag)
        return net

    loop.make_net = patched
    try:
        with matrix_quantizers() if diag.get("diag_matrix") else nullcontext():
            res = loop.run(cfg, runs / name, progress=True,
                           resume=resume and (runs / name / "checkpoint.pt").is_file())
    finally:
        loop.make_net = make_net
    fields.update(diag)
    rec = {"name": name, "fields": fields, "config": cfg.as_dict(),
           "metric": res["metric"],
           "valid": [e[f"valid_{res['metric']}"] for e in res["epochs"]],
           "train": [e[f"train_{res['metric']}"] for e in res["epochs"]],
           "selected_epoch": res.get("selected_epoch", {}).get("qat"),
           "qat": res["qat"], "integer": res["integer"], "exact": res["exact"],
           "seconds": res["seconds"]}
    rec.update({k: res[k] for k in ("float", "ptq") if k in res})
    return rec


def table(records: list[dict]) -> str:
    ref = next((r for r in records if r["name"] == "float"), None)
    lines = ["| variant | epochs | final valid | valid - float | test (qat) | test (integer) | "
             "test - float | integer - qat |", "|---|---|---|---|---|---|---|---|"]
    for r in records:
        dv = f"{r['valid'][-1] - ref['valid'][-1]:+.3f}" if ref else ""
        dt = f"{r['qat'] - ref['qat']:+.3f}" if ref else ""
        lines.append(f"| {r['name']} | {len(r['valid'])} | {r['valid'][-1]:.4f} | {dv} | "
                     f"{r['qat']:.4f} | {r['integer']:.4f} | {dt} | "
                     f"{r['integer'] - r['qat']:+.4f} |")
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    colours = plt.get_cmap("tab20").colors  # a distinct colour for each of up to 20 curves
    for k, r in enumerate(records):
        ax.plot(range(1, len(r["valid"]) + 1), r["valid"], marker="os^D"[k // 10 % 4],
                color=colours[(2 * k) % 20 + (k // 10) % 2], label=r["name"])
    metric = records[0].get("metric", "bpc")
    ax.set(xlabel="epoch", ylabel=f"validation {'BPC' if metric == 'bpc' else metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    atomic_save_png(fig, path)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="char", help="train.data task (default char)")
    p.add_argument("--data", help="the task's data (every task but digits): for char the PTB "
                                  "char folder or a text file")
    p.add_argument("--base", default="{}", help="JSON of Config fields shared by every variant")
    p.add_argument("--variant", nargs=2, action="append", default=[], metavar=("NAME", "JSON"))
    p.add_argument("--record", required=True, help="JSON-lines file the results append to")
    p.add_argument("--runs", default="build/char-ablation", help="folder of the run folders")
    p.add_argument("--plot", help="PNG of validation BPC against epoch")
    p.add_argument("--table-only", action="store_true")
    p.add_argument("--resume", action="store_true",
                   help="a variant whose run folder holds a checkpoint (an interrupted run) "
                        "continues from its last finished epoch, as train --resume")
    a = p.parse_args(argv)
    try:
        base = {"data": a.data, **json.loads(a.base)}
        variants = [(n, {**base, **json.loads(j)}) for n, j in a.variant]
    except json.JSONDecodeError as e:
        print(f"error: --base/--variant is not JSON: {e}", file=sys.stderr)
        return 2
    record = Path(a.record)
    records = load_records(record)
    try:
        for name, fields in variants:
            if a.table_only or any(r["name"] == name for r in records):
                continue
            rec = run_variant(name, fields, Path(a.runs), a.task, a.resume)
            records.append(rec)
            with record.open("a") as f:  # one line per finished run
                f.write(json.dumps(rec) + "\n")
            print(f"{name}: valid {rec['valid'][-1]:.4f}, test {rec['qat']:.4f}, "
                  f"integer {rec['integer']:.4f} ({rec['seconds']:.0f} s)", flush=True)
    except (UserError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    names = [n for n, _ in variants] or [r["name"] for r in records]
    shown = [r for n in names for r in records if r["name"] == n]
    print(table(shown))
    if a.plot and shown:
        plot(shown, Path(a.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
