"""The generator's options (`python -m hw verilog`, `shiftrnn.generate`) as one dataclass.

`GenerateOptions` is what a user asks for; `check()` refuses, in one line naming the option,
a combination the generator would otherwise quietly change (a --simd with --parallel auto or
unrolled, an --order or a memory --storage for the unrolled engine). What the generator built
from them (the lanes and columns after clamping to the model's passes, the order chosen) is
the manifest's; manifest.json also keeps these options as given, inside the design hash
(hw.gen.design), so a later stage knows what was asked and cannot be handed other options.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import UserError
from .axis import NATIVE, PORT_STYLES
from .lanes import ORDERS
from .placement import STORAGES

AUTO = "auto"  # parallel: sized for the board; order: the faster walk
OUTPUTS = ("beat", "serial")  # the head's outputs: one beat, or element beats (hw.gen.serial)
UNROLLED = "unrolled"  # parallel: the unrolled engine (hw.gen.unrolled_top)


def parse_parallel(text: str, *, auto: bool = False) -> int | str:
    """--parallel's text as lanes (an int), 'unrolled', or (with `auto`) 'auto'."""
    if text == UNROLLED or (auto and text == AUTO):
        return text
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = None
    if value is None or value < 1:
        also = f", {AUTO!r}" if auto else ""
        raise UserError(f"--parallel must be a positive integer{also} or {UNROLLED!r}, "
                        f"not {text!r}")
    return value


def _positive(value, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{what} must be a positive integer, not {value!r}")


@dataclass(frozen=True)
class GenerateOptions:
    parallel: int | str = AUTO  # lanes P, "auto" (sized for `board`) or "unrolled"
    simd: int | None = None  # columns per lane a cycle, a power of two (default 1)
    board: str = "icebreaker"  # the board the design is for (hw.board.registry)
    storage: str | None = None  # "memory" (default) or "registers" (the unrolled engine's)
    order: str = AUTO  # the engine's walk: "rows", "columns" or "auto"
    cell_units: int | None = None  # hidden units the unrolled engine's cell updates a cycle
    ports: str = NATIVE  # port names: "native" or "axis"
    # the head's own multiplier engine, for a model whose head alone is intN (mixed
    # precision): lanes (default one unit's rows) and columns (default 1); auto chooses both
    head_parallel: int | None = None
    head_simd: int | None = None
    # the weight memories written at run time (docs/hardware.md, "Reloadable weights")
    reloadable: bool = False
    # the head's outputs: "beat" (one beat of registers), "serial" (element beats out of a
    # memory, hw.gen.serial) or "auto" (serial for more than 16 outputs where they fit)
    output: str = AUTO

    def check(self) -> GenerateOptions:
        """These options with the defaults filled in, or one UserError naming the option."""
        p = self.parallel
        if isinstance(p, str):
            p = parse_parallel(p, auto=True)
        else:
            _positive(p, "--parallel")
        if self.simd is not None:
            _positive(self.simd, "--simd")
            if self.simd & (self.simd - 1):
                raise UserError(f"--simd must be a power of two, not {self.simd}")
            if p == AUTO:
                raise UserError("--simd is chosen by --parallel auto; give --parallel P with it")
            if p == UNROLLED:
                raise UserError("--simd is for the time-multiplexed engine; --parallel unrolled "
                                "takes every column at once")
        if self.storage is not None and self.storage not in STORAGES:
            raise UserError(f"--storage must be one of {', '.join(STORAGES)}, not "
                            f"{self.storage!r}")
        if self.order not in ORDERS + (AUTO,):
            raise UserError(f"--order must be one of {', '.join(ORDERS + (AUTO,))}, not "
                            f"{self.order!r}")
        if self.ports not in PORT_STYLES:
            raise UserError(f"--ports must be one of {', '.join(PORT_STYLES)}, not "
                            f"{self.ports!r}")
        if self.cell_units is not None:
            _positive(self.cell_units, "--cell-units")
        for name in ("head_parallel", "head_simd"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), f"--{name.replace('_', '-')}")
        if (self.head_parallel, self.head_simd) != (None, None) and p in (AUTO, UNROLLED):
            raise UserError("--head-parallel and --head-simd are chosen by --parallel auto; "
                            "give --parallel P with them" if p == AUTO else
                            "--head-parallel/--head-simd are for the time-multiplexed engine, "
                            "not --parallel unrolled")
        if not isinstance(self.board, str) or not self.board:
            raise UserError(f"--board must be a board name, not {self.board!r}")
        if not isinstance(self.reloadable, bool):
            raise UserError(f"reloadable must be true or false, not {self.reloadable!r}")
        if self.reloadable:
            if p == UNROLLED:
                raise UserError("--reloadable is for the time-multiplexed engine: the unrolled "
                                "one's weights are constants in its logic")
            if self.storage == "registers":
                raise UserError("--reloadable writes the weights into memories: it takes "
                                "--storage memory, not registers")
            if self.ports != NATIVE:
                raise UserError("--reloadable takes the native ports: its load port has no "
                                "AXI-Stream names")
        if self.output not in OUTPUTS + (AUTO,):
            raise UserError(f"--output must be one of {', '.join(OUTPUTS + (AUTO,))}, not "
                            f"{self.output!r}")
        if self.output == "serial" and p in (AUTO, UNROLLED):
            raise UserError("--output serial is for the time-multiplexed engine; the unrolled "
                            "one's outputs are one beat" if p == UNROLLED else
                            "--output serial takes a given --parallel P; --parallel auto "
                            "streams a wide head's outputs where the readout fits")
        storage = self.storage
        if p == UNROLLED:
            if storage == "memory":
                raise UserError("--storage memory is for the time-multiplexed engine; the "
                                "unrolled one keeps its vectors in registers")
            if self.order != AUTO:
                raise UserError(f"--order {self.order} is for the time-multiplexed engine; the "
                                f"unrolled one has no walk")
            storage = "registers"
        elif self.cell_units not in (None, 1):
            raise UserError(f"--cell-units is for the unrolled engine (the time-multiplexed "
                            f"one updates one unit a cycle), not {self.cell_units}")
        return GenerateOptions(p, self.simd if self.simd is not None or p in (AUTO, UNROLLED)
                               else 1, self.board, storage or "memory", self.order,
                               self.cell_units, self.ports, self.head_parallel, self.head_simd,
                               self.reloadable, self.output)

    def as_dict(self) -> dict:
        d = asdict(self)
        if not self.reloadable:  # a fixed design's manifest reads as it always did
            del d["reloadable"]
        if self.output == AUTO:  # likewise
            del d["output"]
        return d

    @classmethod
    def from_dict(cls, d, where: str = "options") -> GenerateOptions:
        """From manifest.json's `options`; UserError naming a field this version lacks."""
        if not isinstance(d, dict):
            raise UserError(f"manifest: {where} must be an object, not {d!r}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise UserError(f"manifest: {where} has unknown fields {', '.join(unknown)}")
        try:
            return cls(**d).check()
        except UserError as e:
            raise UserError(f"manifest: {where}: {e}") from None
