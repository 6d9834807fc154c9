"""`python -m train --task digits --cell gru --hidden 32 --quant ternary --mode hardware --out RUN`

Trains a quantized RNN/GRU/LSTM and writes RUN/model.json, RUN/testset.npz, RUN/train.json and
RUN/curves.png (docs/training.md). Bad input prints one `error:` line and exits with status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import fields
from pathlib import Path

from hw import cli
from hw.errors import UserError

from .config import Config
from .quantizers import QUANTIZERS
from .select import RULE_HELP


def parser() -> argparse.ArgumentParser:
    p = cli.Parser(prog="python -m train", description=__doc__.splitlines()[0])
    p.add_argument("--task", help="digits (default), char, vowels, fsdd, ts (any UEA/UCR .ts "
                                   "problem) or sequences (your .npz: x, y, optional lengths "
                                   "and split)")
    p.add_argument("--data", help="data path (every task but digits)")
    p.add_argument("--cell", help="rnn, gru (default) or lstm")
    p.add_argument("--hidden", type=int, help="hidden units per layer (default 32)")
    p.add_argument("--layers", type=int, help="stacked layers (default 1)")
    p.add_argument("--quant", help=f"weight quantizer: {', '.join(QUANTIZERS)} (default ternary)")
    p.add_argument("--input-quant", metavar="QUANT",
                   help="the first layer's input matrix's own quantizer (default --quant): "
                        "int8 keeps a one-hot input's columns at 8 bits (PTB, GRU 128, 8 "
                        "epochs, with --quant ternary --head-quant int8: float's BPC)")
    p.add_argument("--head-quant", metavar="QUANT",
                   help="the head's own quantizer (default --quant)")
    p.add_argument("--mode", help="weights or hardware (default)")
    p.add_argument("--activation", help="integer activations: pwl (default) or hard")
    p.add_argument("--input-scale",
                   help="the model file's input_transform, from the training split: std "
                        "(default: mean 0, std 1; values past the input format's range "
                        "saturate) or range (each feature's min..max onto the whole format)")
    p.add_argument("--levels", type=int, help="exponential: levels below the top (default 7)")
    p.add_argument("--level-shift", type=int,
                   help="binary/ternary level: the Glorot bound as a power of two times 2**SHIFT "
                        "(also the clip bound of pow2-ternary/exponential; default per task)")
    p.add_argument("--level-rule",
                   help="binary/ternary level: glorot (the Glorot bound, default) or fit (fitted "
                        "to the weights, per row for pow2-ternary; clip at 4x the Glorot level)")
    p.add_argument("--shadow-clip", type=int, metavar="K",
                   help="pow2-ternary and exponential shadow weights are clipped at 2**K times "
                        "their Glorot level after each step (0..8, default 1: twice the level; "
                        "under --level-rule fit pow2-ternary keeps its 4x bound)")
    p.add_argument("--lr-scale",
                   help="none or level: binary/ternary shadow weights' learning rate divided "
                        "by their Glorot level, as BinaryConnect's code (default: level for "
                        "char, none for the other tasks and with --input-quant/--head-quant)")
    p.add_argument("--row-gain",
                   help="none (default) or learned: each weight row learns a power-of-two gain "
                        "(ternary, pow2-ternary, exponential; ternary is then stored as "
                        "pow2-ternary, one shift per row in hardware)")
    p.add_argument("--damp", type=float,
                   help="oscillation dampening: weight of a loss term pulling each binary, "
                        "ternary, pow2-ternary or exponential shadow weight towards its own "
                        "quantized value (in units of its level; default 0: off)")
    p.add_argument("--dropout", type=float, metavar="P",
                   help="dropout probability on every layer's input and the head's input in "
                        "training, not on the recurrent connections (Zaremba et al.); the "
                        "exported model has none (default 0: off)")
    p.add_argument("--epochs", type=int, help="training epochs (default per task)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default per task)")
    p.add_argument("--batch", type=int, help="batch size (default per task)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--threads", type=int,
                   help="torch CPU threads (default 1: on a busy machine, threads wait on "
                        "each other)")
    p.add_argument("--device",
                   help="cpu (default) or cuda: where the net trains (weights mode only); "
                        "the test metric, the export and the integer checks run on the CPU")
    p.add_argument("--clip", type=float, help="gradient norm clipping (default 1.0)")
    p.add_argument("--warmup", type=float, metavar="EPOCHS",
                   help="linear learning-rate warm-up over the first EPOCHS of each phase (may "
                        "be a fraction), then the cosine decay over the rest (default 0: off)")
    p.add_argument("--select", metavar="RULE",
                   help="which epoch of each phase to keep, by the validation split: "
                        + "; ".join(f"{k}: {v}" for k, v in RULE_HELP.items())
                        + " (default last)")
    p.add_argument("--patience", type=int, metavar="EPOCHS",
                   help="early stopping: end a phase EPOCHS epochs after the one --select "
                        "keeps (default 0: off)")
    p.add_argument("--frame", metavar="K", type=lambda v: int(v) if v.isdigit() else v,
                   help="feed K consecutive time steps as one step of K x features inputs "
                        "(sequence tasks with one label; the model file then has K x F "
                        "inputs and the test set is written framed), or auto: the smallest K "
                        "that brings the longest training case to 32 steps (default: auto "
                        "for ts, 1 for the others)")
    p.add_argument("--seq-len", type=int, help="char: symbols per sequence (default 100)")
    p.add_argument("--ptq", action="store_true", default=None,
                   help="post-training quantization: train float, then quantize with --quant")
    p.add_argument("--ptq-finetune", type=int, metavar="EPOCHS",
                   help="epochs of quantized fine-tuning after --ptq (default 0)")
    p.add_argument("--baseline", action="store_true", default=None,
                   help="also train a float model first and report its metric")
    p.add_argument("--init", metavar="CHECKPOINT",
                   help="start from a plain torch model: the state_dict of a torch.nn.RNN "
                        "(tanh), GRU or LSTM plus a Linear head; cell, hidden and layers come "
                        "from it. With --ptq it is the float model (quantized, then "
                        "--ptq-finetune epochs); without, QAT fine-tunes it for --epochs")
    p.add_argument("--init-unsafe-pickle", dest="init_pickle", action="store_true",
                   default=None,
                   help="let --init read a whole pickled module (torch.save(model)); unpickling "
                        "runs any code the file holds, so only for files you made yourself")
    p.add_argument("--teacher", metavar="RUN",
                   help="knowledge distillation: a finished run folder (weights mode, the same "
                        "task; any cell and width) whose output distribution the net also "
                        "learns, with weight --distill")
    p.add_argument("--distill", type=float,
                   help="with --teacher: the loss is (1 - D) x cross-entropy + D x KL(teacher "
                        "|| net), at temperature 1 (default 0: off)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last finished epoch")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run --out holds (without it, a folder that holds a run, "
                        "finished or not, is refused)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (the data summary and a line per epoch remain)")
    return p


def config_from(args: argparse.Namespace) -> Config:
    """The options given; with --resume the others come from the run's checkpoint, and a given
    option that differs from the checkpoint's is refused (the run would not be the same run)."""
    given = {f.name: getattr(args, f.name) for f in fields(Config)
             if getattr(args, f.name, None) is not None}
    if not args.resume:
        if given.get("init"):
            from .checkpoint import read_init

            init = read_init(given["init"], bool(given.get("init_pickle")))
            for k in ("cell", "hidden", "layers"):
                v = getattr(init, k)
                if given.setdefault(k, v) != v:
                    raise UserError(f"--{k} {given[k]!r} differs from --init's {v!r}")
        return Config(**given)
    from .checkpoint import load_checkpoint

    saved = load_checkpoint(Path(args.out) / "checkpoint.pt")["config"]
    for k, v in given.items():
        if saved.get(k) != v:
            raise UserError(f"--resume: --{k.replace('_', '-')} {v!r} differs from the "
                            f"checkpoint's {saved.get(k)!r}")
    return Config.from_dict(saved)


def _terminated(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (kill, a job scheduler) ends the run like Ctrl-C


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    out = Path(args.out)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if main_thread else None

    def body() -> int:
        from .loop import run
        from .runfolder import check_run_folder

        cfg = config_from(args).check()
        check_run_folder(out, cfg, resume=args.resume, overwrite=args.overwrite)
        res = run(cfg, out, resume=args.resume, progress=not args.no_progress,
                  overwrite=args.overwrite, log=True)
        extra = "".join(f", {k} {res[k]:.4f}" for k in ("float", "ptq") if k in res)
        print(f"{res['metric']}: qat {res['qat']:.4f}, integer {res['integer']:.4f}{extra} "
              f"({res['seconds']:.0f} s) -> {args.out}/model.json")
        return 0

    def interrupted() -> str:  # train.loop.run removed the folder if it had made it empty
        if not (out / "checkpoint.pt").is_file():
            return "interrupted before the first checkpoint"
        return f"interrupted; continue with --resume --out {args.out}"

    try:
        return cli.run(body, interrupted=interrupted)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
