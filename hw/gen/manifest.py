"""manifest.json: everything a testbench or a board top needs to drive the generated `top`.

`Manifest` is the schema, owned here: `manifest(plan)` builds it from a design's plan
(hw.gen.topplan.TopPlan or hw.gen.unrolled_top.UnrolledPlan; their `.manifest()` calls it),
`save_manifest` writes it (the JSON layout is `Manifest.as_dict`), `load_manifest`/`from_dict`
read it back and raise a one-line UserError naming the field for a malformed or foreign file.
`Stream.pack`/`Stream.unpack` turn beats into payload integers and back by the field offsets,
so a testbench (sim/) restates no width or port name.

Port names are the ones amaranth.back.verilog emits for the component's stream members
(`i__valid`, `o__payload`, ...), or with `--ports axis` those of hw.gen.axis (`s_axis_tdata`,
..., each stream's payload split over `payload_ports`, lowest bits first; `Stream.split` and
`Stream.join` turn a payload integer into port values and back); `verilog_ports` checks them
against the emitted text, so a change in Amaranth's naming fails generation instead of every
testbench.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..board.protocol import fingerprint
from ..errors import UserError
from ..fileio import atomic_write_text
from ..modelfile import EMITS
from .axis import NATIVE, PORT_STYLES
from .options import GenerateOptions
from .payload import input_element

TOP, CLOCK, RESET = "top", "clk", "rst"


@dataclass(frozen=True)
class Field:
    offset: int
    width: int  # bits per element
    count: int = 1
    signed: bool = False

    def get(self, word: int) -> list[int]:
        mask = (1 << self.width) - 1
        out = []
        for k in range(self.count):
            v = (word >> (self.offset + k * self.width)) & mask
            if self.signed and v >> (self.width - 1):
                v -= 1 << self.width
            out.append(v)
        return out

    def put(self, values) -> int:
        values = list(values)
        if len(values) != self.count:
            raise ValueError(f"field holds {self.count} elements, not {len(values)}")
        lo, hi = ((-(1 << (self.width - 1)), (1 << (self.width - 1)) - 1) if self.signed
                  else (0, (1 << self.width) - 1))
        word, mask = 0, (1 << self.width) - 1
        for k, v in enumerate(values):
            v = int(v)
            if not lo <= v <= hi:
                raise ValueError(f"element {k} is {v}, outside the field's {self.width} bits")
            word |= (v & mask) << (self.offset + k * self.width)
        return word


@dataclass(frozen=True)
class Stream:
    valid: str
    ready: str
    payload: str  # the payload's port (with payload_ports: their names joined, for messages)
    width: int
    fields: dict[str, Field]
    # --ports axis: (port, offset, width) covering the payload, lowest bits first; () when
    # the payload is the one port `payload`
    payload_ports: tuple[tuple[str, int, int], ...] = ()

    @property
    def ports(self) -> tuple[tuple[str, int, int], ...]:
        return self.payload_ports or ((self.payload, 0, self.width),)

    def split(self, word: int) -> list[int]:
        """A payload integer as the value of each port (in `ports` order)."""
        return [(word >> off) & ((1 << w) - 1) for _, off, w in self.ports]

    def join(self, values) -> int:
        """The payload integer from the port values (in `ports` order)."""
        return sum(int(v) << off for v, (_, off, _) in zip(values, self.ports, strict=True))

    def pack(self, **values) -> int:
        """Payload integer from field values (a list for `data`, ints for the others)."""
        word = 0
        for name, v in values.items():
            f = self.fields[name]
            word |= f.put(v if name == "data" else [v])
        return word

    def unpack(self, word: int) -> dict[str, list[int] | int]:
        return {name: (f.get(word) if name == "data" else f.get(word)[0])
                for name, f in self.fields.items()}

    def as_dict(self) -> dict:
        fs = {}
        for name, f in self.fields.items():
            count = {"count": f.count} if name == "data" else {}
            fs[name] = {"offset": f.offset, **count, "width": f.width, "signed": f.signed}
        if self.payload_ports:
            return {"valid": self.valid, "ready": self.ready, "payload_width": self.width,
                    "fields": fs, "payload_ports": [{"port": p, "offset": o, "width": w}
                                                    for p, o, w in self.payload_ports]}
        return {"valid": self.valid, "ready": self.ready, "payload": self.payload,
                "payload_width": self.width, "fields": fs}


@dataclass(frozen=True)
class Manifest:
    """What the generator wrote about a top. The fields the testbenches and tools rely on are
    checked on loading; the descriptive ones default for hand-written or older files."""

    top: str
    clock: str
    reset: str
    emit: str
    input: Stream
    output: Stream
    cycles_per_step: int
    latency: int
    ports: str = NATIVE  # hw.gen.axis: the port-name style
    reset_active_low: bool = False
    parallel: int | str | None = None
    simd: int = 1
    order: str | None = None  # the engine's walk (hw.gen.lanes.LanePlan.order)
    lanes: int | None = None
    storage: str | None = None
    model_fingerprint: str | None = None  # CRC-32 of the model's canonical JSON (the board's)
    cell: str | None = None
    activation: str | None = None
    hidden_size: int | None = None
    input_size: int | None = None
    num_layers: int | None = None
    outputs: int | None = None
    bound_cycles: int | None = None
    resources: dict = field(default_factory=dict)
    formats: dict = field(default_factory=dict)
    schemes: dict = field(default_factory=dict)
    # the engine's plan and the board's roofline (absent for the unrolled engine / no board)
    weights_per_step: int | None = None
    sequence_cycles_8: int | None = None
    board_device: str | None = None
    roofline: dict | None = None
    placement: dict | None = None  # hw.gen.placement.Placement.as_dict()
    head: list | None = None  # the head's own engine [lanes, columns] (mixed precision)
    passes: list | None = None  # per pass: schemes, engine, lookup, folding, cycles
    # a reloadable design's: its shape (hw.gen.shape), the shape's fingerprint (the board
    # reports it), the memories a load writes (name, width, depth) and their words
    reload: dict | None = None
    # written by `python -m hw verilog` (hw.gen.cli.generate_run), not by generate() alone:
    # the board the design is for (hw.board.registry), the options as given, the SHA-256 of
    # model.json and top.v, and the design hash over all of this manifest (hw.gen.design)
    board: str | None = None
    options: GenerateOptions | None = None
    model_sha256: str | None = None
    top_v_sha256: str | None = None
    design_hash: str | None = None
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as read

    def as_dict(self) -> dict:
        """The JSON layout of manifest.json (keys in the order the generator always wrote)."""
        d = {}
        for k in _ORDER:
            v = getattr(self, k)
            if k in _OPTIONAL and v is None:
                continue
            d[k] = v.as_dict() if isinstance(v, (Stream, GenerateOptions)) else v
        return d | self.extra


# what `python -m hw verilog` adds (last, so that generate()'s manifests keep their layout)
_STAGE = ("board", "options", "model_sha256", "top_v_sha256", "design_hash")
_OPTIONAL = ("placement", "weights_per_step", "sequence_cycles_8", "board_device", "roofline",
             "order", "head", "passes", "reload") + _STAGE
_ORDER = _OPTIONAL[:-len(_STAGE)] + ("top", "ports", "clock", "reset", "reset_active_low",
                      "model_fingerprint", "emit", "parallel", "simd",
                      "lanes", "storage", "cell", "activation", "hidden_size", "input_size",
                      "num_layers", "outputs", "input", "output", "cycles_per_step", "latency",
                      "bound_cycles", "resources", "formats", "schemes") + _STAGE


def _stream(prefix: str, layout, elem_bits: int, elem_count: int, signed_data: bool) -> Stream:
    fs = {}
    for name, fld in layout:
        if name == "data":
            fs[name] = Field(fld.offset, elem_bits, elem_count, signed_data)
        else:
            fs[name] = Field(fld.offset, fld.width, 1, False)
    return Stream(f"{prefix}__valid", f"{prefix}__ready", f"{prefix}__payload", layout.size, fs)


def streams(top) -> tuple[Stream, Stream]:
    """The input and output payload layouts of a plan or its top (what the manifest writes,
    and what hw.gen.simulate packs and unpacks beats with)."""
    model = top.model
    return (_stream("i", top.in_layout, *input_element(model)),
            _stream("o", top.out_layout, top.out_bits,
                    1 if getattr(top, "serial", False) else top.out_count, True))


def manifest(plan, device=None) -> Manifest:
    """The manifest of the design `plan` (a TopPlan or an UnrolledPlan: the same surface,
    and `plan.engine_fields(device)` gives the fields only its engine has). `device`
    (hw.gen.fit.Device): the board the roofline figures refer to, at its clock."""
    model = plan.model
    i, o = streams(plan)
    return Manifest(**plan.engine_fields(device) | {
        "top": TOP, "clock": CLOCK, "reset": RESET,
        "model_fingerprint": f"{fingerprint(model):08x}",
        "emit": plan.emit,
        "parallel": plan.parallel,
        "simd": plan.simd,
        "lanes": plan.resources["lanes"],
        "storage": plan.storage,
        "cell": model.cell,
        "activation": model.activation,
        "hidden_size": model.hidden_size,
        "input_size": model.input_size,
        "num_layers": model.num_layers,
        "outputs": plan.out_count,
        "input": i,
        "output": o,
        "cycles_per_step": plan.cycles_per_step,
        "latency": plan.latency,
        "resources": plan.resources,
        "formats": model.formats.as_dict(),
        "schemes": {name: m.scheme for name, m in model.matrices()},
    })


def save_manifest(man: Manifest, path) -> None:
    atomic_write_text(path, json.dumps(man.as_dict(), indent=1) + "\n")


def verilog_ports(text: str, module: str = TOP) -> set[str]:
    """The port names of `module` in Verilog text."""
    m = re.search(rf"\bmodule\s+{re.escape(module)}\s*\(([^)]*)\)", text)
    if m is None:
        raise RuntimeError(f"module {module} not found in the generated Verilog")
    return {p.strip() for p in m.group(1).split(",") if p.strip()}


def check_ports(man: Manifest, text: str) -> None:
    ports = verilog_ports(text, man.top)
    want = {man.clock, man.reset}
    for s in (man.input, man.output):
        want |= {s.valid, s.ready} | {p for p, _, _ in s.ports}
    if man.reload is not None:
        want |= {p["port"] for p in man.reload.get("ports", {}).values()}
    if want != ports:
        raise RuntimeError(f"generated ports {sorted(ports)} differ from the manifest's "
                           f"{sorted(want)}")


# ---------------------------------------------------------------- loading

def _need(d, key, where):
    if not isinstance(d, dict) or key not in d:
        raise UserError(f"manifest: {where}{key} is missing")
    return d[key]


def _int(d, key, where) -> int:
    v = _need(d, key, where)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise UserError(f"manifest: {where}{key} must be a non-negative integer, not {v!r}")
    return v


def _read_stream(d, side: str, required: tuple[str, ...]) -> Stream:
    s = _need(d, side, "")
    names = {}
    split = isinstance(s, dict) and "payload_ports" in s
    for k in ("valid", "ready") + (() if split else ("payload",)):
        v = _need(s, k, f"{side}.")
        if not isinstance(v, str) or not v:
            raise UserError(f"manifest: {side}.{k} must be a port name, not {v!r}")
        names[k] = v
    width = _int(s, "payload_width", f"{side}.")
    parts = _payload_ports(s, side, width) if split else ()
    if split:
        names["payload"] = "/".join(p for p, _, _ in parts)
    fs = {}
    raw = _need(s, "fields", f"{side}.")
    if not isinstance(raw, dict):
        raise UserError(f"manifest: {side}.fields must be an object, not {raw!r}")
    for name, f in raw.items():
        where = f"{side}.fields.{name}."
        fld = Field(_int(f, "offset", where), _int(f, "width", where),
                    _int(f, "count", where) if "count" in f else 1, bool(f.get("signed", False)))
        if fld.width < 1 or fld.offset + fld.width * fld.count > width:
            raise UserError(f"manifest: {side}.fields.{name} does not fit in the payload's "
                            f"{width} bits")
        fs[name] = fld
    for name in required:
        if name not in fs:
            raise UserError(f"manifest: {side}.fields.{name} is missing")
    return Stream(names["valid"], names["ready"], names["payload"], width, fs, parts)


def _payload_ports(s: dict, side: str, width: int) -> tuple[tuple[str, int, int], ...]:
    parts = s["payload_ports"]
    if not isinstance(parts, list) or not parts:
        raise UserError(f"manifest: {side}.payload_ports must be a list of ports")
    out, at = [], 0
    for k, p in enumerate(parts):
        where = f"{side}.payload_ports[{k}]."
        name = _need(p, "port", where)
        if not isinstance(name, str) or not name:
            raise UserError(f"manifest: {where}port must be a port name, not {name!r}")
        off, w = _int(p, "offset", where), _int(p, "width", where)
        if off != at or w < 1:
            raise UserError(f"manifest: {where[:-1]} must start at bit {at} with a width of "
                            f"1 or more (the ports cover the payload, lowest bits first)")
        out.append((name, off, w))
        at += w
    if at != width:
        raise UserError(f"manifest: {side}.payload_ports cover {at} bits, not the payload's "
                        f"{width}")
    return tuple(out)


def from_dict(d) -> Manifest:
    """A Manifest from manifest.json's content; UserError naming the first bad field."""
    if not isinstance(d, dict) or not any(k in d for k in _CHECKED):
        what = "an object" if isinstance(d, dict) else type(d).__name__
        raise UserError(f"manifest: holds {what} without top, emit, input or output: not a "
                        f"shiftrnn manifest (python -m hw verilog writes one)")
    emit = _need(d, "emit", "")
    if emit not in EMITS:
        raise UserError(f"manifest: emit is {emit!r}, not hidden, last or every")
    out_fields = ("data", "last") + (("argmax",) if emit != "hidden" else ())
    names = {}
    for k in ("top", "clock", "reset"):
        names[k] = _need(d, k, "")
        if not isinstance(names[k], str) or not names[k]:
            raise UserError(f"manifest: {k} must be a name, not {names[k]!r}")
    known = {f.name for f in fields(Manifest)} - {"extra"}
    rest = {k: v for k, v in d.items() if k in known and k not in _CHECKED}
    for k in ("simd", "lanes", "hidden_size", "input_size", "num_layers", "outputs",
              "bound_cycles", "weights_per_step", "sequence_cycles_8"):
        if k in rest and rest[k] is not None:
            _int(rest, k, "")
    par = rest.get("parallel")
    if par is not None and par != "unrolled" and (
            not isinstance(par, int) or isinstance(par, bool) or par < 1):
        raise UserError(f"manifest: parallel must be a positive integer or 'unrolled', not "
                        f"{par!r}")
    head = rest.get("head")
    if head is not None and not (isinstance(head, list) and len(head) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in head)):
        raise UserError(f"manifest: head must be [lanes, columns] of the head's engine, not "
                        f"{head!r}")
    if rest.get("order") not in (None, "rows", "columns"):
        raise UserError(f"manifest: order is {rest['order']!r}, not rows or columns")
    rl = rest.get("reload")
    if rl is not None and not (isinstance(rl, dict) and isinstance(rl.get("shape"), dict)
                               and isinstance(rl.get("fingerprint"), str)
                               and isinstance(rl.get("memories"), list)):
        raise UserError("manifest: reload must hold a shape, its fingerprint and the memories "
                        "a load writes")
    for k in ("resources", "formats", "schemes"):
        if not isinstance(rest.get(k, {}), dict):
            raise UserError(f"manifest: {k} must be an object, not {rest[k]!r}")
    if not isinstance(rest.get("reset_active_low", False), bool):
        raise UserError(f"manifest: reset_active_low must be true or false, not "
                        f"{rest['reset_active_low']!r}")
    for k in ("board", "model_sha256", "top_v_sha256", "design_hash"):
        if not isinstance(rest.get(k, ""), str):
            raise UserError(f"manifest: {k} must be a string, not {rest[k]!r}")
    if rest.get("options") is not None:
        rest["options"] = GenerateOptions.from_dict(rest["options"])
    if rest.get("ports", NATIVE) not in PORT_STYLES:
        raise UserError(f"manifest: ports is {rest['ports']!r}, not one of "
                        f"{', '.join(PORT_STYLES)}")
    return Manifest(**names, emit=emit,
                    input=_read_stream(d, "input", ("data", "first", "last")),
                    output=_read_stream(d, "output", out_fields),
                    cycles_per_step=_int(d, "cycles_per_step", ""),
                    latency=_int(d, "latency", ""), **rest,
                    extra={k: v for k, v in d.items() if k not in known})


_CHECKED = ("top", "clock", "reset", "emit", "input", "output", "cycles_per_step", "latency")


def load_manifest(path) -> Manifest:
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} does not exist (python -m hw verilog writes it)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path} is not a readable JSON file: {e}") from None
    try:
        return from_dict(d)
    except UserError as e:
        raise UserError(f"{path}: {str(e).removeprefix('manifest: ')}") from None
