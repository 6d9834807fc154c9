"""The training run: phases of Adam with a cosine schedule, checkpoints, resume, and the outputs.

`run(cfg, out)` trains, writes RUN/checkpoint.pt after every epoch (atomically), and at the end
RUN/model.json, RUN/testset.npz, RUN/train.json and RUN/curves.png. A run is a list of phases:

- QAT: `qat` (with `baseline`: a separate `float` model first, for comparison);
- PTQ: `float`, then the same weights quantized (`ptq` metric), then `finetune` epochs if asked.

Every epoch reseeds from (seed, phase, epoch), so a resumed run continues exactly where the
killed one stopped and gives the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hw import metrics as hw_metrics
from hw import modelfile
from hw.errors import UserError
from hw.fileio import atomic_save_png, atomic_write_text, writable_folder
from hw.numerics import Fixed, Formats

from . import data, export, frames, select
from .cells import Net
from .checkpoint import load_checkpoint, read_init, save_checkpoint
from .config import Config
from .runfolder import remove_if_empty, remove_run_files
from .ste import integers

FLOAT_LOGITS = Fixed(32, 0)  # weights-mode logits are reals: "format" with one = 1


class Diverged(UserError):
    """The loss or the weights became NaN or infinite."""


class Inputs:
    """Batches of input-format reals (exactly the integers the hardware sees, / 2**frac)."""

    def __init__(self, task: data.Task, shell: modelfile.Model, device: str = "cpu"):
        self.task, self.shell, self.device = task, shell, torch.device(device)
        self.one = shell.formats.input.one
        self._cache = {}

    def _quantized(self, split: data.Split, idx) -> np.ndarray:
        x = self.shell.quantize_input(self.task.features(split, idx)) / self.one
        if self.task.onehot:  # padded steps hold token 0, as in testset.npz
            return x
        valid = np.arange(x.shape[1])[None, :] < split.lengths[idx][:, None]
        return np.where(valid[..., None], x, 0.0)  # padded steps are zero, as in testset.npz

    def batch(self, split: data.Split, idx, dtype):
        if not self.task.onehot:  # small: quantize each split once
            key = id(split)
            if key not in self._cache:
                self._cache[key] = self._quantized(split, slice(None))
            x = self._cache[key][idx]
        else:
            x = self._quantized(split, idx)
        return (torch.from_numpy(x).to(self.device, dtype),
                torch.from_numpy(split.lengths[idx]).to(self.device),
                torch.from_numpy(split.y[idx]).to(self.device))


def make_net(cfg: Config, task: data.Task, quant: str, mode: str) -> Net:
    """A fresh net; a quantized one (`quant` not float) takes cfg's input and head quantizers."""
    own = {} if quant == "float" else {"input_quant": cfg.input_quant,
                                       "head_quant": cfg.head_quant}
    return Net(cell=cfg.cell, input_size=task.input_size, hidden=cfg.hidden, layers=cfg.layers,
               outputs=len(task.classes), emit=task.emit, quant=quant, mode=mode,
               activation=cfg.activation, levels=cfg.levels, level_shift=cfg.level_shift,
               level_rule=cfg.level_rule, row_gain=cfg.row_gain, shadow_clip=cfg.shadow_clip,
               dropout=cfg.dropout,
               formats={k: tuple(v) for k, v in cfg.formats.items()}, **own)


def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                             y.reshape(-1), ignore_index=-1)


def distill_loss(logits: torch.Tensor, teacher: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean KL(teacher || net) of the output distributions over the targets that count (y >=
    0), at temperature 1: the cross-entropy against the teacher's distribution less its
    entropy, so 0 when the net gives the teacher's distribution."""
    keep = y.reshape(-1) >= 0
    c = logits.shape[-1]
    s = torch.log_softmax(logits.reshape(-1, c)[keep].float(), -1)
    t = torch.log_softmax(teacher.reshape(-1, c)[keep].float(), -1)
    return (t.exp() * (t - s)).sum(-1).mean()


def dtype_of(net: Net):
    return torch.float64 if net.rnn.mode == "hardware" else torch.float32


@torch.no_grad()
def outputs(net: Net, inputs: Inputs, split: data.Split, batch: int = 512) -> np.ndarray:
    """Logits of a whole split in evaluation: integers (hardware mode) or float32 reals."""
    net.eval()
    out = []
    for i in range(0, len(split), batch):
        idx = np.arange(i, min(i + batch, len(split)))
        x, lengths, _ = inputs.batch(split, idx, dtype_of(net))
        logits = net(x, lengths)
        if net.rnn.mode == "hardware":
            out.append(integers(logits, net.rnn.formats.output).cpu().numpy().astype(np.int32))
        else:
            out.append(logits.float().cpu().numpy())
    return np.concatenate(out)


def evaluate(net: Net, inputs: Inputs, split: data.Split) -> tuple[float, np.ndarray]:
    logits = outputs(net, inputs, split)
    fmt = net.rnn.formats.output if net.rnn.mode == "hardware" else FLOAT_LOGITS
    return hw_metrics.task_metric(inputs.task.metric, logits, split.y, fmt,
                                  lengths=split.lengths), logits


def logits_loss(net: Net, logits: np.ndarray, split: data.Split) -> float:
    """The mean cross-entropy (nats) of `evaluate`'s logits: hardware-mode integers are read as
    the output format's reals, so it is the loss of the numbers the hardware computes."""
    one = net.rnn.formats.output.one if net.rnn.mode == "hardware" else 1
    real = torch.from_numpy(np.asarray(logits, dtype=np.float64) / one)
    return float(loss_fn(real, torch.from_numpy(split.y)))


def cosine_lr(base: float, step: int, total: int, warmup: int = 0) -> float:
    """Cosine decay from base to 0 over `total` steps (the codes settle at the end), after a
    linear ramp from base / warmup to base over the first `warmup` steps."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * min(step - warmup, total - warmup)
                                      / (total - warmup)))


def _epoch_seed(cfg: Config, phase: int, epoch: int) -> int:
    return (cfg.seed * 1000003 + phase * 1009 + epoch) % (2**31)


def _check_loss(loss: torch.Tensor, where: str, lr: float) -> None:
    if not torch.isfinite(loss):
        raise Diverged(f"the loss became {loss.item()} at {where}; lower --lr (now {lr:g}) "
                       f"or check the data")


def _check_weights(net: Net, where: str, lr: float) -> None:
    for name, p in net.named_parameters():
        if not torch.isfinite(p).all():
            raise Diverged(f"parameter {name} became NaN/inf at {where}; lower --lr (now {lr:g})")


def train_epoch(net, opt, cfg, inputs, phase_i, phase, epoch, epochs, lr, progress,
                teacher: Net | None = None) -> dict:
    task, split = inputs.task, inputs.task.train
    seed = _epoch_seed(cfg, phase_i, epoch)
    torch.manual_seed(seed)  # stochastic quantizers
    order = np.random.default_rng(seed).permutation(len(split))
    steps = math.ceil(len(split) / cfg.batch)
    warm = min(round(cfg.warmup * steps), epochs * steps - 1)  # steps of warm-up in this phase
    net.train()
    total_loss = correct = count = 0.0
    bar = tqdm(range(steps), desc=f"{phase} {epoch + 1}/{epochs}", disable=not progress,
               leave=False, dynamic_ncols=True)
    for s in bar:
        idx = order[s * cfg.batch: (s + 1) * cfg.batch]
        x, lengths, y = inputs.batch(split, idx, dtype_of(net))
        step_lr = cosine_lr(lr, epoch * steps + s, epochs * steps, warm)
        for g in opt.param_groups:
            g["lr"] = step_lr * g.get("lr_scale", 1.0)
        logits = net(x, lengths)
        loss = loss_fn(logits, y)
        _check_loss(loss, f"{phase} epoch {epoch + 1} step {s + 1}", lr)
        opt.zero_grad(set_to_none=True)
        objective = loss
        if teacher is not None:
            with torch.no_grad():
                t_logits = teacher(x.to(dtype_of(teacher)), lengths)
            objective = ((1 - cfg.distill) * loss
                         + cfg.distill * distill_loss(logits, t_logits, y))
        if cfg.damp:
            (objective + cfg.damp * net.dampening()).backward()
        else:
            objective.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
        opt.step()
        net.clip_shadow_()
        n = int((y >= 0).sum())
        total_loss += loss.item() * n
        count += n
        if task.metric == "accuracy":
            correct += float((logits.argmax(-1) == y).sum())
            live = {"loss": f"{total_loss / count:.3f}", "acc": f"{correct / count:.3f}"}
        else:
            live = {"bpc": f"{total_loss / count / math.log(2):.3f}"}
        bar.set_postfix(live, refresh=False)
    bar.close()
    _check_weights(net, f"the end of {phase} epoch {epoch + 1}", lr)
    bpc = total_loss / count / math.log(2)
    train_metric = correct / count if task.metric == "accuracy" else bpc
    return {"loss": total_loss / count, "train_" + task.metric: train_metric}


def phases(cfg: Config) -> list[dict]:
    """name, quantizer, mode, epochs, learning rate, and whether the model is a fresh one (or,
    with --init, the given one); --init's float phase trains nothing: it is the given model."""
    float_epochs = 0 if cfg.init else cfg.epochs
    if cfg.ptq:
        out = [dict(name="float", quant="float", mode="weights", epochs=float_epochs, lr=cfg.lr,
                    fresh=True)]
        if cfg.ptq_finetune:
            out.append(dict(name="finetune", quant=cfg.quant, mode=cfg.mode,
                            epochs=cfg.ptq_finetune, lr=cfg.lr / 10, fresh=False))
        return out
    out = [dict(name="qat", quant=cfg.quant, mode=cfg.mode, epochs=cfg.epochs, lr=cfg.lr,
                fresh=True)]
    if cfg.baseline:
        out.insert(0, dict(name="float", quant="float", mode="weights", epochs=float_epochs,
                           lr=cfg.lr, fresh=True))
    return out


def run(cfg: Config, out, *, resume: bool = False, progress: bool = True,
        overwrite: bool = False, log: bool | None = None,
        on_epoch: Callable[[dict, dict, Net, Inputs], None] | None = None) -> dict:
    """Train as `cfg` says, write the run folder `out`, return what train.json holds.

    `progress`: tqdm bars. `log` (default: as `progress`): a summary of the data, then one line
    per epoch. `overwrite`: the trainer's old files in `out` go once the data has loaded (the
    commands refuse a folder holding a run without it: train.runfolder).
    `on_epoch(phase, record, net, inputs)` is called after every epoch (after its validation),
    with `phases(cfg)`'s entry, the epoch's record, the net and the task's inputs
    (`bench/selection.py` scores every epoch on the test split that way, to compare rules)."""
    cfg.check()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; the run needs a folder")
    existed = out.is_dir()
    try:
        writable_folder(out, "run folder")  # a read-only folder fails now, not after an epoch
        return _run(cfg, out, resume, progress, overwrite, progress if log is None else log,
                    on_epoch)
    except BaseException:
        remove_if_empty(out, existed)  # a failed or stopped run leaves no empty folder
        raise


def _say(line: str, progress: bool) -> None:
    if progress:
        tqdm.write(line)  # above the bar
    else:
        print(line, flush=True)


def _run(cfg: Config, out: Path, resume: bool, progress: bool, overwrite: bool,
         log: bool, on_epoch) -> dict:
    torch.set_num_threads(cfg.threads)
    ckpt_path = out / "checkpoint.pt"
    state = {"config": cfg.as_dict(), "phase": 0, "epoch": 0, "net": None, "opt": None,
             "history": [], "results": {}, "seconds": 0.0}
    if resume:
        state = load_checkpoint(ckpt_path)
        # through Config, so a checkpoint from before a new option compares with its default
        if Config.from_dict(state.get("config") or {}).as_dict() != cfg.as_dict():
            raise UserError(f"--resume: the options differ from those of {ckpt_path}")
    task = data.load(cfg.task, cfg.data, seed=cfg.seed, seq_len=cfg.seq_len)
    if cfg.input_scale == "range" and task.offset is not None:
        fmt = Formats.from_pairs(cfg.formats).input
        task.offset, task.scale = data.range_scaling(task.train, fmt.max / fmt.one)
    frame = frames.resolve(cfg.frame, task)
    task = frames.stack(task, frame)  # after the transform: its fill maps to 0
    if frame != 1:
        state["results"]["frame"] = frame  # what feeds the model groups this many steps
    shell = modelfile.Model(cfg.cell, task.input_size, cfg.hidden, cfg.activation,
                            Formats.from_pairs(cfg.formats), [], None, task.offset, task.scale)
    inputs = Inputs(task, shell, cfg.device)
    init = _init(cfg, task)
    teacher = _teacher(cfg, task)
    if teacher is not None and cfg.device != "cpu":
        if teacher.rnn.mode == "hardware":  # its lookup tables stay on the CPU
            raise UserError(f"--teacher: {cfg.teacher} is a hardware-mode run, which runs on "
                            f"the CPU only; train with --device cpu")
        teacher.to(cfg.device)
    if log:
        _say(task.summary(), progress)
    if init is not None and not resume:  # the one thing about --init no check can see
        data_arg = f" --data {cfg.data}" if cfg.data else ""
        print(f"note: --init: {cfg.init} must have been trained on this run's training split "
              f"only, or its test figures read high; `python -m train.data split {cfg.task}"
              f"{data_arg} --seed {cfg.seed} --out split.npz` writes the split's indices",
              file=sys.stderr)
    if overwrite:  # only now: a bad option or data path above leaves the old run as it was
        remove_run_files(out)
    eval_name = "valid" if task.valid is not None else "test"
    eval_split = task.valid if task.valid is not None else task.test
    plan = phases(cfg)
    start = time.monotonic() - state["seconds"]
    net = None
    for pi, ph in enumerate(plan):
        if pi < state["phase"]:
            continue
        if state["epoch"] > 0:  # resumed in the middle of this phase
            net = make_net(cfg, task, ph["quant"], ph["mode"])
            net.load_state_dict(state["net"])
        elif ph["fresh"]:
            torch.manual_seed(_epoch_seed(cfg, pi, 10**6))
            net = make_net(cfg, task, ph["quant"], ph["mode"])
            if init is not None:  # a plain torch model has no row gains: they start at 0
                missing, _ = net.load_state_dict(init.state, strict=False)
                if any(not k.endswith("_gain") for k in missing):
                    net.load_state_dict(init.state)  # the usual error for the others
        else:  # post-training quantization of the float model, then fine-tuning
            net = _ptq(cfg, task, net, state, inputs)
        net.to(cfg.device)  # in place, before the optimizer takes its parameters
        opt = torch.optim.Adam(net.param_groups(cfg.lr_scale), lr=ph["lr"])
        if state["epoch"] > 0:
            opt.load_state_dict(state["opt"])
        for epoch in range(state["epoch"], ph["epochs"]):
            if task.valid is not None and select.stop_after(
                    _phase_records(state, ph["name"]), cfg.select, task.metric, cfg.patience):
                state["results"].setdefault("stopped_after", {})[ph["name"]] = epoch
                break  # early stopping (checked first, so that --resume stops alike)
            t0 = time.monotonic()
            rec = train_epoch(net, opt, cfg, inputs, pi, ph["name"], epoch, ph["epochs"],
                              ph["lr"], progress, teacher)
            score, logits = evaluate(net, inputs, eval_split)
            rec.update(phase=ph["name"], epoch=epoch + 1, **{f"{eval_name}_{task.metric}": score},
                       seconds=round(time.monotonic() - t0, 3))
            if task.valid is not None:
                rec["valid_loss"] = logits_loss(net, logits, eval_split)
            state["history"].append(rec)
            if task.valid is not None:
                _keep_best(state, net, cfg.select, task.metric)
            if on_epoch is not None:
                on_epoch(ph, rec, net, inputs)
            if log:
                shown = ", ".join(f"{k} {v:.4f}" for k, v in rec.items()
                                  if isinstance(v, float) and k != "seconds")
                _say(f"{ph['name']} epoch {epoch + 1}/{ph['epochs']}: {shown} "
                     f"({rec['seconds']:.1f} s)", progress)
            state.update(epoch=epoch + 1, net=net.state_dict(), opt=opt.state_dict(),
                         seconds=time.monotonic() - start)
            save_checkpoint(ckpt_path, state)
        _select_best(state, net, ph["name"])
        if ph["name"] == "float":
            state["results"]["float"] = evaluate(net, inputs, task.test)[0]
        state.update(phase=pi + 1, epoch=0, opt=None, net=net.state_dict(),
                     seconds=time.monotonic() - start)
        save_checkpoint(ckpt_path, state)
    if cfg.ptq and "ptq" not in state["results"]:  # PTQ without fine-tuning
        net = _ptq(cfg, task, net, state, inputs)
    if net is None:  # resumed a finished run: rebuild the final model
        net = make_net(cfg, task, cfg.quant, cfg.mode)
        net.load_state_dict(state["net"])
    return finish(cfg, task, net, state, out, start)


def _phase_records(state: dict, phase: str) -> list[dict]:
    return [h for h in state["history"] if h["phase"] == phase]


def _keep_best(state: dict, net: Net, rule: str, metric: str) -> None:
    """After an epoch (its record last in the history): remember its weights if the selection
    rule keeps it among the phase's epochs so far (train/select.py)."""
    rec = state["history"][-1]
    if select.choose(_phase_records(state, rec["phase"]), rule, metric) == rec["epoch"]:
        state["best"] = {"epoch": rec["epoch"],
                         "net": {k: v.detach().clone() for k, v in net.state_dict().items()}}


def _select_best(state: dict, net: Net, phase: str) -> None:
    """End of a phase: continue from (and export) its best validation epoch, not the last."""
    best = state.pop("best", None)
    if best is not None:
        net.load_state_dict(best["net"])
        state["results"].setdefault("selected_epoch", {})[phase] = best["epoch"]


def _init(cfg: Config, task: data.Task):
    """--init's weights, checked against the options and the task (None without --init)."""
    if not cfg.init:
        return None
    init = read_init(cfg.init, cfg.init_pickle)
    for what, mine, theirs in (("cell", cfg.cell, init.cell), ("hidden", cfg.hidden, init.hidden),
                               ("layers", cfg.layers, init.layers),
                               ("input size", task.input_size, init.input_size),
                               ("classes", len(task.classes), init.outputs)):
        if mine != theirs:
            raise UserError(f"--init: {cfg.init} has {what} {theirs}, the run {mine}")
    return init


def _teacher(cfg: Config, task: data.Task) -> Net | None:
    """--teacher's final model in evaluation, checked against the task (None without it)."""
    if not cfg.teacher:
        return None
    folder = Path(cfg.teacher)
    if not folder.is_dir():
        raise UserError(f"--teacher: {folder} is not a run folder")
    state = load_checkpoint(folder / "checkpoint.pt", "--teacher")
    try:
        tcfg = Config.from_dict(state["config"])
    except (TypeError, ValueError) as e:
        raise UserError(f"--teacher: {folder}'s configuration is not readable ({e})") from None
    if state.get("phase") != len(phases(tcfg)) or not isinstance(state.get("net"), dict):
        raise UserError(f"--teacher: {folder} has not finished training (resume it first)")
    if tcfg.task != cfg.task:
        raise UserError(f"--teacher: {folder} was trained on task {tcfg.task}, this run is "
                        f"{cfg.task}")
    net = make_net(tcfg, task, tcfg.quant, tcfg.mode)
    try:
        net.load_state_dict(state["net"])
    except RuntimeError:
        raise UserError(f"--teacher: {folder}'s model does not take this task's "
                        f"{task.input_size} inputs and {len(task.classes)} classes") from None
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _ptq(cfg: Config, task: data.Task, net: Net | None, state: dict, inputs: Inputs) -> Net:
    """The trained float model with cfg.quant's weights in cfg.mode; records the `ptq` metric."""
    if net is None:
        net = make_net(cfg, task, "float", "weights")
        net.load_state_dict(state["net"])
    net.to(cfg.device)
    net.set_quant(cfg.quant, cfg.input_quant, cfg.head_quant)
    net.set_mode(cfg.mode)
    state["results"]["ptq"] = evaluate(net, inputs, task.test)[0]
    return net


def finish(cfg: Config, task: data.Task, net: Net, state: dict, out: Path, start: float) -> dict:
    net.cpu()  # the test metric, the export and the exactness check run on the CPU always
    net.set_quant(cfg.quant, cfg.input_quant, cfg.head_quant)
    net.set_mode(cfg.mode)
    inputs = Inputs(task, export.shell(net, task))
    qat, qat_logits = evaluate(net, inputs, task.test)
    meta = {"task": task.name, "classes": task.classes, "config": cfg.as_dict()}
    if "frame" in state["results"]:
        meta["frame"] = state["results"]["frame"]  # time steps per input vector
    model = export.to_model(net, task, meta)
    model.metric = task.metric
    modelfile.save(model, out / "model.json")
    ts = export.testset(model, task, task.test)
    hw_metrics.save_testset(ts, out / "testset.npz")
    integer, int_logits = export.integer_metric(model, task, ts)
    if cfg.mode == "hardware" and not np.array_equal(int_logits, qat_logits):
        bad = np.argwhere(int_logits != qat_logits)[0]
        raise AssertionError(f"hardware mode and hw.reference disagree at {tuple(bad)}: "
                             f"{qat_logits[tuple(bad)]} vs {int_logits[tuple(bad)]}")
    results = {"config": cfg.as_dict(), "metric": task.metric, "epochs": state["history"],
               **state["results"], "qat": qat, "integer": integer,
               "exact": bool(cfg.mode == "hardware"),
               "seconds": round(time.monotonic() - start, 2)}
    atomic_write_text(out / "train.json", json.dumps(results, indent=1) + "\n")
    plot(results, out / "curves.png")
    return results


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist, metric = results["epochs"], results["metric"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name in dict.fromkeys(h["phase"] for h in hist):
        rows = [h for h in hist if h["phase"] == name]
        ep = [h["epoch"] for h in rows]
        if "valid_loss" in rows[0]:
            a.plot(ep, [h["valid_loss"] for h in rows], label=f"{name} (valid)")
        a.plot(ep, [h["loss"] for h in rows], "--", label=f"{name} (train)")
        if name in results.get("selected_epoch", {}):
            b.axvline(results["selected_epoch"][name], color="grey", lw=0.8, ls=":")
        key = next(k for k in rows[0] if k.endswith(metric) and not k.startswith("train"))
        b.plot(ep, [h[key] for h in rows], label=f"{name} ({key.split('_')[0]})")
        b.plot(ep, [h["train_" + metric] for h in rows], "--", label=f"{name} (train)")
    a.set(xlabel="epoch", ylabel="loss (nats)")
    b.set(xlabel="epoch", ylabel=metric)
    for ax in (a, b):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # --init --ptq alone trains no epoch
            ax.legend(fontsize=8)
    c = results["config"]
    fig.suptitle(f"{c['task']} {c['cell']} H{c['hidden']} {c['quant']} {c['mode']}: "
                 f"qat {results['qat']:.4f}, integer {results['integer']:.4f}", fontsize=10)
    fig.tight_layout()
    atomic_save_png(fig, path)
    plt.close(fig)
