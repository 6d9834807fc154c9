"""The UART link protocol, host side and shared constants (pure Python; docs/boards.md).

Frames are SLIP-delimited (RFC 1055): `END body END`, with END and ESC bytes inside the body
escaped. A body is `type, payload..., crc8` where crc8 is CRC-8/SMBUS (poly 0x07, init 0)
over type and payload. The gateware (hw/board/rx.py, tx.py) implements the same bytes; the
tests check both against this module.

Host -> board:  STEP (type 0x10 | first | last << 1, payload: the step's input elements),
                INFO_REQ (0x01, no payload),
                LOAD (0x30, payload: memory id, 3-byte word address, then whole words of that
                memory, each little-endian in nbytes(width) bytes; reloadable boards only),
                COMMIT (0x31, payload: CRC-32 of every LOAD payload since the load began, in
                order, then the new model's fingerprint; both 4 bytes little-endian).
Board -> host:  OUT (0x20 | last, payload: output elements then argmax), ACK (0x02: a step
                consumed that emits nothing, a LOAD written, a COMMIT accepted), INFO (0x01,
                payload: `Link`), ERROR (0xE0 | code).
Every STEP gets exactly one OUT or ACK, unless the board answers ERROR for a malformed frame;
every LOAD and COMMIT one ACK or ERROR. From the first LOAD a reloadable board refuses STEPs
(E_NO_MODEL) until a COMMIT whose CRC-32 equals its own over the bytes it received: a load cut
off, corrupted or out of range leaves it refusing, never running a half-written model
(docs/boards.md, "Reloading a model").
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from amaranth.lib.crc import catalog

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD

T_INFO, T_ACK, T_STEP, T_OUT, T_ERROR = 0x01, 0x02, 0x10, 0x20, 0xE0
T_LOAD, T_COMMIT = 0x30, 0x31
ERRORS = {1: "bad crc", 2: "bad length", 3: "unknown type", 4: "timeout inside a frame",
          5: "line error (framing or overrun)", 6: "bad escape",
          7: "no model to run (a load is under way, was cut off or failed its check)",
          8: "load out of range (memory, address or a partial word)",
          9: "commit refused (the loaded bytes' CRC-32 differs, a frame was lost, or not "
             "every word was written)"}
E_CRC, E_LENGTH, E_TYPE, E_TIMEOUT, E_LINE, E_ESCAPE = 1, 2, 3, 4, 5, 6
E_NO_MODEL, E_RANGE, E_COMMIT = 7, 8, 9
EMIT_CODES = {"hidden": 0, "last": 1, "every": 2}
# what a board runs (INFO's `state`): its model; nothing, a load under way (or cut off); nothing,
# its last COMMIT refused
RUNNING, LOADING, FAILED = 0, 1, 2
STATES = {RUNNING: "running", LOADING: "loading (no model runs until a COMMIT)",
          FAILED: "refusing to run (its last load failed its check)"}
VERSION = 2  # 2: LOAD, COMMIT, INFO's shape fingerprint and state
ADDR_BYTES = 3  # a LOAD's word address
LOAD_HEADER = 1 + ADDR_BYTES

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


def crc32(data: bytes, value: int = 0) -> int:
    """CRC-32 (ISO-HDLC, zlib's): COMMIT's check of the loaded bytes; `value` continues one."""
    return zlib.crc32(data, value)


def fingerprint(model) -> int:
    """CRC-32 of the model's canonical JSON: the board reports it so the host can tell
    that the board runs the model it compares against."""
    import json
    text = json.dumps(model.as_dict(), sort_keys=True, separators=(",", ":"))
    return zlib.crc32(text.encode())


def nbytes(bits: int) -> int:
    return (bits + 7) // 8


_INFO_V1 = struct.Struct("<BIHBHBBBHI")  # the INFO payload of version 1, little-endian
_INFO = struct.Struct("<BIHBHBBBHIIB")  # version 2: then the shape fingerprint and the state
INFO_FINGERPRINT_AT = 1  # byte offsets of the fields a reloadable board changes at run time
INFO_STATE_AT = _INFO.size - 1


@dataclass(frozen=True)
class Link:
    """What one board's frames carry: sizes of the step and output payloads and more.

    `shape`: the shape fingerprint of a reloadable board (the weights it can take, docs/
    hardware.md "Reloadable weights"), 0 for a fixed design; `state`: RUNNING, LOADING or
    FAILED; `version`: the protocol the board speaks (1: before reloadable weights)."""

    input_size: int
    in_bytes: int  # bytes per input element (two's complement, little-endian)
    out_n: int
    out_bytes: int
    argmax_bytes: int  # 0 without a head
    emit: str
    fingerprint: int
    fifo_depth: int  # bytes the board buffers between the UART and the model
    clock_hz: int
    shape: int = 0
    state: int = RUNNING
    version: int = VERSION

    @property
    def step_payload(self) -> int:
        return self.input_size * self.in_bytes

    @property
    def out_payload(self) -> int:
        return self.out_n * self.out_bytes + self.argmax_bytes

    @property
    def reloadable(self) -> bool:
        return self.shape != 0

    def info_payload(self) -> bytes:
        return _INFO.pack(VERSION, self.fingerprint, self.input_size, self.in_bytes, self.out_n,
                          self.out_bytes, self.argmax_bytes, EMIT_CODES[self.emit],
                          self.fifo_depth, self.clock_hz, self.shape, self.state)

    @classmethod
    def from_info_payload(cls, payload: bytes) -> Link:
        """The board's INFO; a version 1 board (before reloadable weights) reads as a fixed
        design that runs its model."""
        ver = payload[0] if payload else None
        fmt = {1: _INFO_V1, VERSION: _INFO}.get(ver)
        if fmt is None:
            raise ValueError(f"the board speaks protocol version {ver}, this host 1 to "
                             f"{VERSION}: update shiftrnn or rebuild the bitstream")
        if len(payload) != fmt.size:
            raise ValueError(f"INFO payload of version {ver} has {len(payload)} bytes, "
                             f"expected {fmt.size}")
        (_, fp, n_in, in_b, n_out, out_b, am_b, emit, depth, clk, *rest) = fmt.unpack(payload)
        shape, state = rest if rest else (0, RUNNING)
        names = {v: k for k, v in EMIT_CODES.items()}
        if emit not in names:
            raise ValueError(f"the board reports an unknown emit code {emit}")
        if state not in STATES:
            raise ValueError(f"the board reports an unknown state {state}")
        return cls(n_in, in_b, n_out, out_b, am_b, names[emit], fp, depth, clk, shape, state,
                   ver)

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


def load_payloads(memory: int, width: int, words, *, max_payload: int = 128) -> list[bytes]:
    """The LOAD payloads that write `words` (integers below 2**width) into memory `memory`
    from address 0, each at most `max_payload` bytes (header included, whole words)."""
    nb = nbytes(width)
    for a, w in enumerate(words):
        if not 0 <= w < 1 << width:
            raise ValueError(f"word {a} of memory {memory} is {w}, not a {width}-bit word")
    per = max(1, (max_payload - LOAD_HEADER) // nb)
    out = []
    for a in range(0, len(words), per):
        chunk = words[a:a + per]
        body = b"".join(int(w).to_bytes(nb, "little") for w in chunk)
        out.append(bytes((memory,)) + a.to_bytes(ADDR_BYTES, "little") + body)
    return out


def commit_payload(crc: int, fingerprint_: int) -> bytes:
    return crc.to_bytes(4, "little") + fingerprint_.to_bytes(4, "little")
