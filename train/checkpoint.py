"""Checkpoints that load without running code, and `--init` weights from plain torch models.

A run's `checkpoint.pt` holds only tensors and plain data (the configuration as a dict, numbers,
lists), so `torch.load(weights_only=True)` reads it: a checkpoint from someone else cannot run
code here. `--init FILE` reads the same way: a `state_dict` of a `torch.nn.RNN`/`GRU`/`LSTM`
plus a `torch.nn.Linear` head (keys under any prefix, or the dict under `state_dict`, `model`
or `net`). A whole pickled module is read only with `allow_pickle` (`--init-unsafe-pickle`),
because unpickling it runs whatever code the file names.
"""

from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from hw.errors import UserError
from hw.fileio import atomic_path

GATES_TO_CELL = {1: "rnn", 3: "gru", 4: "lstm"}
_NESTED = ("state_dict", "model", "net", "model_state_dict")


# what torch.load(weights_only=True) reads back without an allow-list of globals; exact types,
# since numpy's float64 is a float subclass that it refuses
_PLAIN = (str, int, float, bool, type(None))


def plain_data(value, where: str = "state") -> None:
    """Raise TypeError naming the first value under `where` that is not a tensor or plain data
    (dicts, ordered dicts, lists, tuples of str/int/float/bool/None): a numpy scalar or an
    object would make the checkpoint unreadable by `--resume`, an epoch after it was written."""
    if type(value) in (dict, OrderedDict):  # state_dict() gives an OrderedDict
        for k, v in value.items():
            plain_data(k, f"{where} key {k!r}")
            plain_data(v, f"{where}[{k!r}]")
    elif type(value) in (list, tuple):
        for i, v in enumerate(value):
            plain_data(v, f"{where}[{i}]")
    elif not (type(value) in _PLAIN or isinstance(value, torch.Tensor)):
        raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__name__}, which "
                        f"torch.load(weights_only=True) refuses")


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically; refuse (a bug, not user input: TypeError) anything weights_only could
    not read, before it is written."""
    plain_data(state)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _safe_load(path: Path, what: str):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(f"{what}: {path} holds pickled objects, not only tensors and plain data; "
                        f"refused, since loading them could run code from the file") from None
    except Exception as e:  # a truncated or foreign file
        raise UserError(f"{what}: {path} is not a readable torch checkpoint "
                        f"({type(e).__name__})") from None


def load_checkpoint(path: Path, what: str = "--resume") -> dict:
    """A run's checkpoint, read with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what}: {path} does not exist")
    state = _safe_load(path, what)
    if not isinstance(state, dict) or not isinstance(state.get("config"), dict):
        raise UserError(f"{what}: {path} is not a shiftrnn run checkpoint (no configuration)")
    return state


# ---------------------------------------------------------------- --init

@dataclass
class Init:
    """A plain torch model's weights, renamed to `train.cells.Net`'s parameter names."""

    cell: str
    input_size: int
    hidden: int
    layers: int
    outputs: int
    state: dict[str, torch.Tensor]


def _state_dict(path: Path, allow_pickle: bool) -> dict:
    if not path.is_file():
        raise UserError(f"--init: {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not allow_pickle:
            raise UserError(f"--init: {path} holds a pickled object (a whole module?), not a "
                            f"state_dict; save model.state_dict() instead, or pass "
                            f"--init-unsafe-pickle if you trust the file (loading it runs any "
                            f"code it holds)") from None
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:
            raise UserError(f"--init: {path} is not a readable torch file "
                            f"({type(e).__name__}: {e})") from None
    except Exception as e:
        raise UserError(f"--init: {path} is not a readable torch file ({type(e).__name__})") \
            from None
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in _NESTED:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise UserError(f"--init: {path} holds {type(obj).__name__}, not a state_dict of tensors")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def _recurrent_prefix(sd: dict, path: Path) -> str:
    prefixes = sorted(k[: -len("weight_ih_l0")] for k in sd if k.endswith("weight_ih_l0"))
    if not prefixes:
        raise UserError(f"--init: {path} has no recurrent layer (no key ending in weight_ih_l0 "
                        f"as torch.nn.RNN/GRU/LSTM name their weights)")
    if len(prefixes) > 1:
        raise UserError(f"--init: {path} has several recurrent modules "
                        f"({', '.join(p.rstrip('.') or '(top)' for p in prefixes)}); keep one")
    return prefixes[0]


def read_init(path, allow_pickle: bool = False) -> Init:
    """The recurrent stack and the Linear head of a plain torch model, checked and renamed."""
    path = Path(path)
    sd = _state_dict(path, allow_pickle)
    p = _recurrent_prefix(sd, path)
    mine = [k for k in sd if k.startswith(p) and re.fullmatch(r"(weight|bias)_\w+", k[len(p):])]
    odd = sorted(k for k in mine if re.search(r"_reverse$|^weight_hr_", k[len(p):]))
    if odd:
        raise UserError(f"--init: {path}: {odd[0]} belongs to a bidirectional or projected "
                        f"layer, which the hardware does not implement")
    layers = 0
    while f"{p}weight_ih_l{layers}" in sd:
        layers += 1
    w_hh = sd.get(f"{p}weight_hh_l0")
    if w_hh is None or w_hh.ndim != 2:
        raise UserError(f"--init: {path} lacks {p}weight_hh_l0")
    hidden = w_hh.shape[1]
    rows = w_hh.shape[0]
    if rows % hidden or rows // hidden not in GATES_TO_CELL:
        raise UserError(f"--init: {p}weight_hh_l0 has shape {tuple(w_hh.shape)}: not 1, 3 or 4 "
                        f"gates of {hidden} hidden units (RNN, GRU, LSTM)")
    cell = GATES_TO_CELL[rows // hidden]
    input_size = sd[f"{p}weight_ih_l0"].shape[1]
    state = {}
    for k in range(layers):
        cols = input_size if k == 0 else hidden
        for name, shape in ((f"weight_ih_l{k}", (rows, cols)), (f"weight_hh_l{k}", (rows, hidden)),
                            (f"bias_ih_l{k}", (rows,)), (f"bias_hh_l{k}", (rows,))):
            t = sd.get(p + name)
            if t is None:
                raise UserError(f"--init: {path} lacks {p}{name} (layers need biases: "
                                f"bias=True, the default)")
            if tuple(t.shape) != shape:
                raise UserError(f"--init: {p}{name} has shape {tuple(t.shape)}, expected {shape}")
            state[f"rnn.{name}"] = t.detach().to(torch.float32)
    heads = [k for k in sd if k not in mine and k.endswith("weight") and sd[k].ndim == 2
             and sd[k].shape[1] == hidden]
    if len(heads) != 1:
        what = "no" if not heads else f"{len(heads)} ({', '.join(sorted(heads))})"
        raise UserError(f"--init: {path} has {what} Linear head with {hidden} inputs; expected "
                        f"exactly one (the logits from the last step or every step)")
    w = sd[heads[0]]
    b = sd.get(heads[0][: -len("weight")] + "bias")
    if b is None or tuple(b.shape) != (w.shape[0],):
        raise UserError(f"--init: the head {heads[0]} has no bias of {w.shape[0]} values")
    state["head.weight"], state["head.bias"] = w.detach().float(), b.detach().float()
    return Init(cell, int(input_size), int(hidden), layers, int(w.shape[0]), state)
