"""The multiplier baseline of the demo: the trained model with int8 weights.

The trainer keeps full-precision shadow weights (checkpoint.pt); quantizing those to int8 per
row (post-training, no retraining) gives a model of the same size, formats and activations whose
weights need real multipliers. Its bitstream is built the same way as the shift-add model's, so
the two differ only in the weight arithmetic. Its accuracy (the reference model on the same
test set) is recorded too, for information.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from hw import metrics, modelfile
from hw.errors import UserError
from hw.fileio import atomic_write_text
from train import data, export
from train.config import Config
from train.loop import load_checkpoint, make_net

SCHEME = "int8"


def int8_model(run: Path) -> tuple[modelfile.Model, float]:
    """(the int8 model, its accuracy on RUN/testset.npz by the reference model)."""
    state = load_checkpoint(run / "checkpoint.pt")
    cfg = Config.from_dict(state["config"])
    task = data.load(cfg.task, cfg.data, seed=cfg.seed, seq_len=cfg.seq_len)
    net = make_net(cfg, task, SCHEME, "hardware")
    net.load_state_dict(state["net"])
    net.eval()
    source = modelfile.load(run / "model.json")
    meta = dict(source.meta)
    meta["source"] = f"int8 post-training quantization of {run / 'checkpoint.pt'}"
    with torch.no_grad():
        model = export.to_model(net, task, meta)
    model.metric = source.metric
    ts = metrics.load_testset(run / "testset.npz")
    acc, _ = export.integer_metric(model, task, ts)
    return model, acc


def write(run: Path, out: Path) -> None:
    if not (run / "checkpoint.pt").is_file():
        raise UserError(f"{run / 'checkpoint.pt'} does not exist: train first")
    model, acc = int8_model(run)
    out.mkdir(parents=True, exist_ok=True)
    modelfile.save(model, out / "model.json")
    info = {"scheme": SCHEME, "accuracy": acc, "source": model.meta["source"]}
    atomic_write_text(out / "int8.json", json.dumps(info, indent=1) + "\n")
    print(f"  int8 model: reference accuracy {acc:.4f} -> {out / 'model.json'}", flush=True)
