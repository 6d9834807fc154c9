"""The training configuration: a dataclass stored in every checkpoint, train.json and model.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import torch

from hw.errors import UserError
from hw.numerics import ACTIVATION_KINDS, Formats

from .cells import CELLS, GAIN_SCHEMES, LR_SCALES, MODES, ROW_GAINS
from .data import TASKS
from .quantizers import LEVEL_RULES, QUANTIZERS
from .select import RULES

INPUT_SCALES = ("std", "range")
DEVICES = ("cpu", "cuda")

# Per task: epochs, learning rate, batch size, level shift, lr scale (what `None` in Config
# means). char: binary/ternary shadow weights learn at lr / level (measured on PTB, see
# docs/experiments.md); the other tasks were not measured with it.
# char: one-hot inputs reach a layer through one column only, and the recurrent weights of a
# language model need more gain; levels twice the Glorot bound (and lr 0.02) measured best on PTB.
TASK_DEFAULTS = {
    "digits": dict(epochs=40, lr=0.02, batch=32, level_shift=0, lr_scale="none"),
    "char": dict(epochs=2, lr=0.02, batch=32, level_shift=1, lr_scale="level"),
    "vowels": dict(epochs=60, lr=0.01, batch=16, level_shift=0, lr_scale="none"),
    "fsdd": dict(epochs=30, lr=0.005, batch=32, level_shift=0, lr_scale="none"),
    # ts: UEA/UCR problems often have a few dozen training cases; batch 4 gives them 4x the
    # optimizer steps of batch 16 (docs/experiments.md, "Small UEA/UCR problems")
    # and --frame auto: a GRU learns a series of hundreds of values far better 32 steps at a time
    "ts": dict(epochs=60, lr=0.01, batch=4, level_shift=0, lr_scale="none", frame="auto"),
    "sequences": dict(epochs=40, lr=0.01, batch=32, level_shift=0, lr_scale="none"),
}


@dataclass
class Config:
    task: str = "digits"
    data: str | None = None
    cell: str = "gru"
    hidden: int = 32
    layers: int = 1
    quant: str = "ternary"
    input_quant: str | None = None  # the first layer's input matrix's quantizer (None: quant)
    head_quant: str | None = None  # the head's quantizer (None: quant)
    mode: str = "hardware"
    activation: str = "pwl"
    input_scale: str = "std"  # input_transform from the training split: std or range
    levels: int = 7  # exponential: codes -levels..levels
    level_shift: int | None = None  # binary/ternary level: Glorot bound (pow2) times 2**shift
    level_rule: str = "glorot"  # binary/ternary/pow2-ternary level: glorot, or fit to the weights
    shadow_clip: int = 1  # pow2-ternary/exponential shadow weights clip at 2**this x Glorot level
    lr_scale: str | None = None  # level: binary/ternary shadow weights' lr / their Glorot level
    row_gain: str = "none"  # learned: a power-of-two gain per weight row (train/cells.py)
    damp: float = 0.0  # oscillation dampening: loss weight of Net.dampening() (train/cells.py)
    dropout: float = 0.0  # on layer inputs and the head's input in training (train/cells.py Net)
    epochs: int | None = None
    lr: float | None = None
    batch: int | None = None
    seed: int = 0
    threads: int = 1  # 2 threads ran 5-10x slower than 1 on the shared 2-core machine
    # where the net trains (weights mode only); the export and every check run on the CPU
    device: str = "cpu"
    clip: float = 1.0  # gradient norm clipping
    # which epoch of a phase to keep (train/select.py's RULES): the last measured best on
    # digits and on six small UEA/UCR problems (docs/experiments.md, "Which epoch to keep")
    select: str = "last"
    patience: int = 0  # early stopping: epochs past the one `select` keeps (0: off)
    warmup: float = 0.0  # epochs of linear learning-rate warm-up before the cosine decay
    seq_len: int = 100  # char: symbols per sequence (the state resets at each)
    # K consecutive steps fed as one step of K x F inputs, or "auto" (train/frames.py)
    frame: int | str | None = None
    ptq: bool = False  # train float, then quantize with `quant`
    ptq_finetune: int = 0  # epochs of fine-tuning after post-training quantization
    baseline: bool = False  # QAT runs: also train a float baseline first
    init: str | None = None  # start from a plain torch model's weights (train/checkpoint.py)
    init_pickle: bool = False  # --init may be a whole pickled module (runs its code)
    # knowledge distillation: a finished run (weights mode) whose logits the loss also follows
    teacher: str | None = None
    distill: float = 0.0  # the loss: (1 - distill) * cross-entropy + distill * KL(teacher, net)
    # {name: [bits, frac]} (JSON in checkpoints); default: hw.numerics.Formats'
    formats: dict = field(default_factory=lambda: {k: list(v)
                                                   for k, v in Formats().pairs().items()})

    def __post_init__(self):
        if self.lr_scale is None and (self.input_quant or self.head_quant):
            # with the input matrix and head in their own schemes the level scale cost PTB
            # 0.15 BPC (docs/experiments.md, "Which matrix costs what"): off unless asked for
            self.lr_scale = "none"
        d = TASK_DEFAULTS.get(self.task, {})
        for k, v in d.items():
            if getattr(self, k) is None:
                setattr(self, k, v)
        if self.frame is None:
            self.frame = 1

    def check(self) -> Config:
        """Raise UserError naming the first impossible option."""
        def choice(name, allowed):
            if getattr(self, name) not in allowed:
                raise UserError(f"--{name.replace('_', '-')} {getattr(self, name)!r} is not one of "
                                f"{', '.join(allowed)}")
        choice("task", TASKS)
        choice("cell", tuple(CELLS))
        choice("quant", QUANTIZERS)
        choice("mode", MODES)
        choice("activation", ACTIVATION_KINDS)
        choice("input_scale", INPUT_SCALES)
        choice("level_rule", LEVEL_RULES)
        choice("lr_scale", LR_SCALES)
        choice("row_gain", ROW_GAINS)
        choice("select", RULES)
        choice("device", DEVICES)
        if self.device == "cuda":
            if self.mode == "hardware":
                raise UserError("--device cuda trains in --mode weights only; hardware mode "
                                "trains on the CPU (--device cpu)")
            if not torch.cuda.is_available():
                raise UserError(f"--device cuda: this torch {torch.__version__} sees no CUDA "
                                "device (torch.cuda.is_available() is False)")
        for name in ("input_quant", "head_quant"):
            if getattr(self, name) is not None:
                choice(name, QUANTIZERS)
                if self.quant == "float":
                    raise UserError(f"--{name.replace('_', '-')} needs a quantized --quant; "
                                    "with --quant float every matrix is float")
        if self.row_gain != "none" and self.quant.removesuffix("-stoch") not in GAIN_SCHEMES:
            raise UserError(f"--row-gain {self.row_gain} applies to "
                            f"{', '.join(GAIN_SCHEMES)}, not --quant {self.quant}")
        for name, lo, hi in (("hidden", 1, 4096), ("layers", 1, 16), ("levels", 1, 15),
                             ("epochs", 1, 100000), ("batch", 1, 1 << 20), ("threads", 1, 256),
                             ("seq_len", 2, 1 << 20),
                             ("ptq_finetune", 0, 100000), ("patience", 0, 100000),
                             ("level_shift", -8, 8), ("shadow_clip", 0, 8)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise UserError(f"--{name.replace('_', '-')} must be an integer from {lo} to {hi}, "
                                f"not {v!r}")
        if self.frame != "auto" and (not isinstance(self.frame, int) or
                                     isinstance(self.frame, bool) or not 1 <= self.frame <= 1024):
            raise UserError(f"--frame must be auto or an integer from 1 to 1024, not "
                            f"{self.frame!r}")
        for name in ("lr", "clip"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 < v < 1e6:
                raise UserError(f"--{name} must be a positive number, not {v!r}")
        if not isinstance(self.damp, (int, float)) or isinstance(self.damp, bool) or \
                not 0 <= self.damp < 1e6:
            raise UserError(f"--damp must be a number from 0 (off), not {self.damp!r}")
        if not isinstance(self.dropout, (int, float)) or isinstance(self.dropout, bool) or \
                not 0 <= self.dropout < 1:
            raise UserError(f"--dropout must be a probability from 0 (off) to below 1, not "
                            f"{self.dropout!r}")
        if not isinstance(self.warmup, (int, float)) or isinstance(self.warmup, bool) or \
                not 0 <= self.warmup < self.epochs:
            raise UserError(f"--warmup must be a number of epochs from 0 (off) to below --epochs "
                            f"({self.epochs}), not {self.warmup!r}")
        if not isinstance(self.distill, (int, float)) or isinstance(self.distill, bool) or \
                not 0 <= self.distill <= 1:
            raise UserError(f"--distill must be a number from 0 (off) to 1, not {self.distill!r}")
        if bool(self.teacher) != bool(self.distill):
            raise UserError("--teacher and --distill go together: the teacher's run folder and "
                            "the weight of its term in the loss (above 0)")
        if self.ptq_finetune and not self.ptq:
            raise UserError("--ptq-finetune needs --ptq")
        if self.init_pickle and not self.init:
            raise UserError("--init-unsafe-pickle needs --init")
        if self.ptq and self.quant == "float":
            raise UserError("--ptq with --quant float has nothing to quantize; pick a scheme")
        return self

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        # before --frame existed every run fed one step per step (ts now defaults to auto)
        d = {"frame": 1, **d}
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise UserError(f"configuration has unknown fields: {', '.join(unknown)}")
        return cls(**d)
