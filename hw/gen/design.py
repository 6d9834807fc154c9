"""The design hash: the link between what `make verilog` wrote and what the later stages use.

`python -m hw verilog` writes top.v, then manifest.json with the SHA-256 of model.json and of
top.v, the board, the options as given and the design hash: the SHA-256 of the manifest's
own canonical JSON without that field (so it covers the two file hashes, the folding, the
board and every figure). `python -m sim` and `python -m hw bitstream` call `check_run` before
any work: a model.json swapped or retrained since, a top.v edited or copied from another run,
or a manifest edited by hand (its lanes, its board) is one line naming the file, and nothing
is simulated or synthesised. sim.json and bitstream.json record the design hash they
checked, so the bitstream stage knows whether the simulation it finds checked this design.

What this must not do: trust a field of the manifest before the hash over it is checked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from ..errors import UserError
from .manifest import Manifest, load_manifest


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def design_hash(man: Manifest) -> str:
    """SHA-256 of the manifest's canonical JSON without its design_hash field."""
    d = man.as_dict()
    d.pop("design_hash", None)
    text = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def seal(man: Manifest, model_path, top_v_path) -> Manifest:
    """`man` with the SHA-256 of the model file and of top.v, and its design hash."""
    man = dataclasses.replace(man, model_sha256=sha256_file(model_path),
                              top_v_sha256=sha256_file(top_v_path), design_hash=None)
    return dataclasses.replace(man, design_hash=design_hash(man))


def check_run(run, *, regenerate: str | None = None) -> Manifest:
    """RUN/manifest.json, once RUN/model.json, RUN/top.v and the manifest itself are the ones
    `make verilog` wrote together; else one UserError naming the file that differs.
    `regenerate`: the command the message suggests (default: make verilog RUN=run BOARD=...)."""
    run = Path(run)
    paths = {"model": run / "model.json", "top": run / "top.v", "manifest": run / "manifest.json"}
    for what, path in paths.items():
        if not path.is_file():
            raise UserError(f"{path} does not exist (make verilog RUN={run} writes "
                            f"{'it' if what != 'model' else 'top.v from it'})")
    man = load_manifest(paths["manifest"])
    again = regenerate or f"regenerate with make verilog RUN={run}"
    if man.design_hash is None or man.model_sha256 is None or man.top_v_sha256 is None:
        raise UserError(f"{paths['manifest']} holds no design hash (written by hand or by an "
                        f"older shiftrnn), so nothing ties it to top.v and model.json; {again}")
    if design_hash(man) != man.design_hash:
        raise UserError(f"{paths['manifest']} was changed after make verilog wrote it (its "
                        f"design hash does not match its content); {again}")
    if regenerate is None and man.board:  # trusted now
        again = f"regenerate with make verilog RUN={run} BOARD={man.board}"
    if sha256_file(paths["model"]) != man.model_sha256:
        raise UserError(f"{paths['model']} is not the model {paths['top']} was generated from "
                        f"(changed, retrained or swapped since make verilog); {again}")
    if sha256_file(paths["top"]) != man.top_v_sha256:
        raise UserError(f"{paths['top']} is not the file make verilog wrote with "
                        f"{paths['manifest']} (edited, or from another run); {again}")
    return man
