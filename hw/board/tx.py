"""The board's frame encoder: model output beats and reply requests in, UART bytes out.

Replies (ACK, INFO, ERROR) go first, then model outputs, one whole frame at a time:
`END, escaped(type, payload, crc8), END`. OUT payloads hold each output element sign-extended
to whole bytes, little-endian, then the argmax (with a head), zero-extended.

A model whose outputs stream (hw.gen.serial: element beats, the last with `end` and the
argmax) gives the same frames: the encoder takes an element when the bytes of the one before
have gone out, so it holds one element, not the whole output.
"""

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.crc import Processor
from amaranth.lib.wiring import In, Out

from . import protocol as p
from .rejecting import rejecting


def out_fields(out_layout, count: int | None = None) -> tuple[int, int, int]:
    """(elements, element bits, argmax bits or 0) of a model output payload layout; a
    streamed output's (an `end` field) elements are `count`."""
    members = dict(out_layout.members)
    if "data" not in members or "last" not in members:
        raise ValueError(f"the model's output payload needs 'data' and 'last': {out_layout!r}")
    arr = members["data"]
    argmax = members["argmax"].width if "argmax" in members else 0
    if "end" in members:
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"a streamed output needs its count of elements, not {count!r}")
        return count, arr.elem_shape.width, argmax
    return arr.length, arr.elem_shape.width, argmax


class FrameEncoder(wiring.Component):
    """Frames `reply` type bytes (INFO carries the `info` port's `info_bytes` bytes, byte 0 in
    the low bits, as they are when the reply starts) and `out` beats onto the byte stream
    `o`; a streamed output's beats are its elements, `count` of them."""

    def __init__(self, *, out_layout, info_bytes: int, count: int | None = None):
        with rejecting(self):
            self.out_n, self.out_bits, self.argmax_bits = out_fields(out_layout, count)
            self.serial = "end" in dict(out_layout.members)
            if not isinstance(info_bytes, int) or isinstance(info_bytes, bool) \
                    or info_bytes < 0:
                raise TypeError(f"info_bytes must be a number of bytes, not {info_bytes!r}")
        self.out_bytes = p.nbytes(self.out_bits)
        self.argmax_bytes = p.nbytes(self.argmax_bits)
        self.out_payload = self.out_n * self.out_bytes + self.argmax_bytes
        self.info_bytes = info_bytes
        super().__init__({"out": In(stream.Signature(out_layout)),
                          "reply": In(stream.Signature(8)), "o": Out(stream.Signature(8)),
                          "info": In(8 * info_bytes)})

    def elaborate(self, platform):
        m = Module()
        ser = self.serial
        # a streamed output: `body` holds one element's bytes (and the argmax after the
        # last), `left` how many of them are still to go; when a payload byte is due and
        # none is left, FILL takes the next element
        n_frame = max(self.out_payload, self.info_bytes)
        n_body = max(self.out_bytes + self.argmax_bytes, self.info_bytes) if ser else n_frame
        m.submodules.crc = crc = Processor(p.CRC8)

        packed = []  # the OUT payload (or an element's part), byte 0 in the least significant bits
        for k in range(1 if ser else self.out_n):
            ext = Signal(signed(8 * self.out_bytes), name=f"out{k}")
            m.d.comb += ext.eq(self.out.payload.data[k])
            packed.append(ext)
        if self.argmax_bytes:
            am = Signal(8 * self.argmax_bytes)
            m.d.comb += am.eq(self.out.payload.argmax)
            packed.append(am)

        body = Signal(8 * n_body)
        length = Signal(range(n_frame + 1))
        type_ = Signal(8)
        idx = Signal(range(n_frame + 2))  # 0: type, 1..length: payload, length + 1: crc
        escaped = Signal()  # the ESC of the current byte has gone out
        left = Signal(range(n_body + 1)) if ser else None

        # each byte is prepared in two cycles of its own (PREP, PICK), so every cycle's logic
        # starts from registers: the byte, whether it needs an escape, whether the CRC takes
        # it (a byte takes 10 bit times on the line, so the cycles cost nothing)
        raw = Signal(8)
        special, to_crc, first, final = Signal(), Signal(), Signal(), Signal()

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.reply.valid):
                    m.d.comb += self.reply.ready.eq(1)
                    m.d.sync += [type_.eq(self.reply.payload), length.eq(0)]
                    if ser:
                        m.d.sync += left.eq(0)
                    with m.If(self.reply.payload == p.T_INFO):
                        m.d.sync += [body.eq(self.info), length.eq(self.info_bytes)]
                        if ser:
                            m.d.sync += left.eq(self.info_bytes)
                    m.next = "LEAD"
                with m.Elif(self.out.valid):
                    if ser:  # an output's first element, taken in FILL
                        m.d.sync += [type_.eq(p.T_OUT | self.out.payload.last),
                                     length.eq(self.out_payload), left.eq(0)]
                    else:
                        m.d.comb += self.out.ready.eq(1)
                        m.d.sync += [type_.eq(p.T_OUT | self.out.payload.last),
                                     body.eq(Cat(*packed)), length.eq(self.out_payload)]
                    m.next = "LEAD"
            with m.State("LEAD"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(p.END)]
                with m.If(self.o.ready):
                    m.d.sync += [idx.eq(0), escaped.eq(0)]
                    m.next = "PREP"
            with m.State("PREP"):  # where the byte comes from
                m.d.sync += [to_crc.eq(idx <= length), first.eq(idx == 0),
                             final.eq(idx == length + 1)]
                if ser:
                    with m.If((idx != 0) & (idx <= length) & (left == 0)):
                        m.next = "FILL"
                    with m.Else():
                        m.next = "PICK"
                else:
                    m.next = "PICK"
            if ser:
                with m.State("FILL"):
                    m.d.comb += self.out.ready.eq(1)
                    with m.If(self.out.valid):
                        m.d.sync += [body.eq(Cat(*packed)),
                                     left.eq(Mux(self.out.payload.end,
                                                 self.out_bytes + self.argmax_bytes,
                                                 self.out_bytes))]
                        m.next = "PICK"
            with m.State("PICK"):  # the byte, and whether it needs an escape
                byte = Mux(first, type_, Mux(to_crc, body[:8], crc.crc))
                m.d.sync += [raw.eq(byte), special.eq((byte == p.END) | (byte == p.ESC))]
                m.next = "BODY"
            with m.State("BODY"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(special & ~escaped):
                    m.d.comb += self.o.payload.eq(p.ESC)
                    with m.If(self.o.ready):
                        m.d.sync += escaped.eq(1)
                with m.Else():
                    m.d.comb += self.o.payload.eq(
                        Mux(special, Mux(raw == p.END, p.ESC_END, p.ESC_ESC), raw))
                    with m.If(self.o.ready):  # this byte is done
                        m.d.sync += [escaped.eq(0), idx.eq(idx + 1)]
                        m.d.comb += [crc.data.eq(raw), crc.valid.eq(to_crc), crc.start.eq(first)]
                        with m.If(~first & to_crc):
                            m.d.sync += body.eq(body >> 8)
                            if ser:
                                m.d.sync += left.eq(left - 1)
                        m.next = "PREP"
                        with m.If(final):
                            m.next = "TRAIL"
            with m.State("TRAIL"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(p.END)]
                with m.If(self.o.ready):
                    m.next = "IDLE"
        return m
