"""The generated top's ports and payload layouts, read from its manifest.json.

The testbench restates no width or port name: `Manifest` holds what the generator wrote, and
`Stream.pack`/`Stream.unpack` turn beats into payload integers and back by the manifest's
field offsets. A malformed manifest is a UserError naming the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hw.errors import UserError


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
    payload: str
    width: int
    fields: dict[str, Field]

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


@dataclass(frozen=True)
class Manifest:
    top: str
    clock: str
    reset: str
    emit: str
    parallel: object
    input: Stream
    output: Stream
    cycles_per_step: int
    latency: int
    raw: dict


def _need(d, key, where):
    if not isinstance(d, dict) or key not in d:
        raise UserError(f"manifest: {where}{key} is missing")
    return d[key]


def _int(d, key, where) -> int:
    v = _need(d, key, where)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise UserError(f"manifest: {where}{key} must be a non-negative integer, not {v!r}")
    return v


def _stream(d, side: str, required: tuple[str, ...]) -> Stream:
    s = _need(d, side, "")
    names = {}
    for k in ("valid", "ready", "payload"):
        v = _need(s, k, f"{side}.")
        if not isinstance(v, str) or not v:
            raise UserError(f"manifest: {side}.{k} must be a port name, not {v!r}")
        names[k] = v
    width = _int(s, "payload_width", f"{side}.")
    fields = {}
    for name, f in _need(s, "fields", f"{side}.").items():
        where = f"{side}.fields.{name}."
        fld = Field(_int(f, "offset", where), _int(f, "width", where),
                    _int(f, "count", where) if "count" in f else 1, bool(f.get("signed", False)))
        if fld.width < 1 or fld.offset + fld.width * fld.count > width:
            raise UserError(f"manifest: {side}.fields.{name} does not fit in the payload's "
                            f"{width} bits")
        fields[name] = fld
    for name in required:
        if name not in fields:
            raise UserError(f"manifest: {side}.fields.{name} is missing")
    return Stream(names["valid"], names["ready"], names["payload"], width, fields)


def load_manifest(path) -> Manifest:
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} does not exist (python -m hw verilog writes it)") from None
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{path} is not a readable JSON file: {e}") from None
    return from_dict(d)


def from_dict(d: dict) -> Manifest:
    emit = _need(d, "emit", "")
    if emit not in ("hidden", "last", "every"):
        raise UserError(f"manifest: emit is {emit!r}, not hidden, last or every")
    out_fields = ("data", "last") + (("argmax",) if emit != "hidden" else ())
    names = {}
    for k in ("top", "clock", "reset"):
        names[k] = _need(d, k, "")
        if not isinstance(names[k], str) or not names[k]:
            raise UserError(f"manifest: {k} must be a name, not {names[k]!r}")
    return Manifest(names["top"], names["clock"], names["reset"], emit, d.get("parallel"),
                    _stream(d, "input", ("data", "first", "last")),
                    _stream(d, "output", out_fields),
                    _int(d, "cycles_per_step", ""), _int(d, "latency", ""), d)
