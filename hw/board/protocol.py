"""The UART link protocol, host side and shared constants (pure Python; docs/boards.md).

Frames are SLIP-delimited (RFC 1055): `END body END`, with END and ESC bytes inside the body
escaped. A body is `type, payload..., crc8` where crc8 is CRC-8/SMBUS (poly 0x07, init 0)
over type and payload. The gateware (hw/board/rx.py, tx.py) implements the same bytes; the
tests check both against this module.

Host -> board:  STEP (type 0x10 | first | last << 1, payload: the step's input elements),
                INFO_REQ (0x01, no payload).
Board -> host:  OUT (0x20 | last, payload: output elements then argmax), ACK (0x02: a step
                consumed that emits nothing), INFO (0x01, payload: `Link`), ERROR (0xE0 | code).
Every STEP gets exactly one OUT or ACK, unless the board answers ERROR for a malformed frame.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from amaranth.lib.crc import catalog

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD

T_INFO, T_ACK, T_STEP, T_OUT, T_ERROR = 0x01, 0x02, 0x10, 0x20, 0xE0
ERRORS = {1: "bad crc", 2: "bad length", 3: "unknown type", 4: "timeout inside a frame",
          5: "line error (framing or overrun)", 6: "bad escape"}
E_CRC, E_LENGTH, E_TYPE, E_TIMEOUT, E_LINE, E_ESCAPE = 1, 2, 3, 4, 5, 6
EMIT_CODES = {"hidden": 0, "last": 1, "every": 2}
VERSION = 1

CRC8 = catalog.CRC8_SMBUS(8)


def crc8(data: bytes) -> int:
    return CRC8.compute(data)


def escape(body: bytes) -> bytes:
    out = bytearray()
    for b in body:
        if b == END:
            out += bytes((ESC, ESC_END))
        elif b == ESC:
            out += bytes((ESC, ESC_ESC))
        else:
            out.append(b)
    return bytes(out)


def frame(type_: int, payload: bytes = b"") -> bytes:
    """The bytes on the line for one frame (leading END flushes any garbage before it)."""
    body = bytes((type_,)) + payload
    return bytes((END,)) + escape(body + bytes((crc8(body),))) + bytes((END,))


class Deframer:
    """Bytes in, frames out: `feed(data)` returns a list of (type, payload) for good frames and
    ("bad", reason) for frames that fail their CRC or escaping. Empty frames are skipped."""

    def __init__(self):
        self._buf, self._esc, self._bad = bytearray(), False, False

    def feed(self, data: bytes) -> list:
        out = []
        for b in data:
            if b == END:
                if self._bad or self._esc:
                    out.append(("bad", "bad escape"))
                elif len(self._buf) == 1 or (self._buf and crc8(bytes(self._buf)) != 0):
                    out.append(("bad", "bad crc"))
                elif self._buf:
                    out.append((self._buf[0], bytes(self._buf[1:-1])))
                self._buf, self._esc, self._bad = bytearray(), False, False
            elif self._esc:
                self._esc = False
                if b in (ESC_END, ESC_ESC):
                    self._buf.append(END if b == ESC_END else ESC)
                else:
                    self._bad = True
            elif b == ESC:
                self._esc = True
            else:
                self._buf.append(b)
        return out


def fingerprint(model) -> int:
    """CRC-32 of the model's canonical JSON: the board reports it so the host can tell
    that the board runs the model it compares against."""
    import json
    text = json.dumps(model.as_dict(), sort_keys=True, separators=(",", ":"))
    return zlib.crc32(text.encode())


def nbytes(bits: int) -> int:
    return (bits + 7) // 8


_INFO = struct.Struct("<BIHBHBBBHI")  # the INFO payload, little-endian


@dataclass(frozen=True)
class Link:
    """What one board's frames carry: sizes of the step and output payloads and more."""

    input_size: int
    in_bytes: int  # bytes per input element (two's complement, little-endian)
    out_n: int
    out_bytes: int
    argmax_bytes: int  # 0 without a head
    emit: str
    fingerprint: int
    fifo_depth: int  # bytes the board buffers between the UART and the model
    clock_hz: int

    @property
    def step_payload(self) -> int:
        return self.input_size * self.in_bytes

    @property
    def out_payload(self) -> int:
        return self.out_n * self.out_bytes + self.argmax_bytes

    def info_payload(self) -> bytes:
        return _INFO.pack(VERSION, self.fingerprint, self.input_size, self.in_bytes, self.out_n,
                          self.out_bytes, self.argmax_bytes, EMIT_CODES[self.emit],
                          self.fifo_depth, self.clock_hz)

    @classmethod
    def from_info_payload(cls, payload: bytes) -> Link:
        if len(payload) != _INFO.size:
            raise ValueError(f"INFO payload has {len(payload)} bytes, expected {_INFO.size}")
        (ver, fp, n_in, in_b, n_out, out_b, am_b, emit, depth, clk) = _INFO.unpack(payload)
        if ver != VERSION:
            raise ValueError(f"the board speaks protocol version {ver}, the host {VERSION}")
        names = {v: k for k, v in EMIT_CODES.items()}
        if emit not in names:
            raise ValueError(f"the board reports an unknown emit code {emit}")
        return cls(n_in, in_b, n_out, out_b, am_b, names[emit], fp, depth, clk)

    def encode_step(self, x, *, first: bool, last: bool) -> bytes:
        """One STEP frame; x holds input_size integers that fit in_bytes (two's complement
        or unsigned: the same bytes)."""
        if len(x) != self.input_size:
            raise ValueError(f"a step has {self.input_size} elements, not {len(x)}")
        mask = (1 << (8 * self.in_bytes)) - 1
        payload = b"".join((int(v) & mask).to_bytes(self.in_bytes, "little") for v in x)
        return frame(T_STEP | int(first) | int(last) << 1, payload)

    def decode_out(self, payload: bytes) -> tuple[list[int], int | None]:
        if len(payload) != self.out_payload:
            raise ValueError(f"OUT payload has {len(payload)} bytes, expected {self.out_payload}")
        b = self.out_bytes
        data = [int.from_bytes(payload[k * b:(k + 1) * b], "little", signed=True)
                for k in range(self.out_n)]
        argmax = None
        if self.argmax_bytes:
            argmax = int.from_bytes(payload[self.out_n * b:], "little")
        return data, argmax


INFO_PAYLOAD_BYTES = _INFO.size
