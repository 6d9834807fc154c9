"""The board's frame decoder: UART entries in, model input beats and reply requests out.

It checks each frame (escaping, CRC, type, length) at its END byte, so a broken frame never
reaches the model: the frame is dropped and an ERROR reply is queued. A frame cut off by a
quiet line (the UART's IDLE marker) is dropped the same way, so garbage never leaves the
decoder waiting. Replies (ACK, INFO, ERROR type bytes) go out through a small FIFO; ERROR
replies are dropped when it is full (the host resynchronises on any error anyway), ACK and
INFO wait for room.
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.crc import Processor
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from . import protocol as p
from .rejecting import rejecting
from .uart import RxEntry, RxKind


def step_fields(step_layout) -> tuple[int, int]:
    """(input_size, element bits) of a model input payload layout."""
    members = dict(step_layout.members)
    for name in ("data", "first", "last"):
        if name not in members:
            raise ValueError(f"the model's input payload has no {name!r} field: {step_layout!r}")
    arr = members["data"]
    return arr.length, arr.elem_shape.width


class FrameDecoder(wiring.Component):
    """Decodes STEP and INFO_REQ frames; `step` carries the model's input beats."""

    def __init__(self, *, step_layout, emit: str, reply_depth: int = 16):
        with rejecting(self):
            if emit not in p.EMIT_CODES:
                raise ValueError(f"emit must be one of {', '.join(p.EMIT_CODES)}, "
                                 f"not {emit!r}")
            self.input_size, self.bits = step_fields(step_layout)
        self.in_bytes = p.nbytes(self.bits)
        self.payload_bytes = self.input_size * self.in_bytes
        self.emit = emit
        self.reply_depth = reply_depth
        super().__init__({"i": In(stream.Signature(RxEntry)), "reply": Out(stream.Signature(8)),
                          "step": Out(stream.Signature(step_layout))})

    def elaborate(self, platform):
        m = Module()
        P = self.payload_bytes
        m.submodules.crc = crc = Processor(p.CRC8)
        m.submodules.replies = fifo = SyncFIFOBuffered(width=8, depth=self.reply_depth)
        wiring.connect(m, wiring.flipped(self.reply), fifo.r_stream)

        count = Signal(range(P + 4))  # body bytes so far; P + 3 stands for "too long"
        esc = Signal()
        bad_line = Signal()
        bad_escape = Signal()
        type_ = Signal(8)
        payload = Signal(8 * P)
        code = Signal(8)  # the reply to queue

        for k in range(self.input_size):
            lo = 8 * self.in_bytes * k
            m.d.comb += self.step.payload.data[k].eq(payload[lo:lo + self.bits])
        m.d.comb += [self.step.payload.first.eq(type_[0]), self.step.payload.last.eq(type_[1])]

        # comparisons of the counter and the frame, registered, and from them the verdict an
        # END byte would get now, registered again: the decoder decodes an entry at most every
        # third cycle (`rested`; UART bytes come hundreds of cycles apart), so both are up to
        # date when the next entry comes, and an END only applies the verdict (a short path)
        is0, is1, is2, is_full, in_body, not_over = (Signal(), Signal(), Signal(), Signal(),
                                                      Signal(), Signal())
        is_step, is_info, crc_ok = Signal(), Signal(), Signal()
        # the entry, taken into a register with its classification, so that the frame logic
        # below starts from registers only; `take`: it is decoded this cycle
        entry = Signal(RxEntry)
        full, take = Signal(), Signal()
        is_byte, is_idle, is_error = Signal(), Signal(), Signal()
        is_end, is_esc, is_esc_end, is_esc_esc = Signal(), Signal(), Signal(), Signal()
        m.d.comb += self.i.ready.eq(~full)
        with m.If(self.i.valid & ~full):
            d, k = self.i.payload.data, self.i.payload.kind
            m.d.sync += [entry.eq(self.i.payload), full.eq(1),
                         is_byte.eq(k == RxKind.BYTE), is_idle.eq(k == RxKind.IDLE),
                         is_error.eq(k == RxKind.ERROR), is_end.eq(d == p.END),
                         is_esc.eq(d == p.ESC), is_esc_end.eq(d == p.ESC_END),
                         is_esc_esc.eq(d == p.ESC_ESC)]
        with m.If(take):
            m.d.sync += full.eq(0)
        gap = Signal(range(3))  # cycles still to rest after the last entry decoded
        rested = Signal()
        m.d.comb += rested.eq(gap == 0)
        with m.If(take):
            m.d.sync += gap.eq(2)
        with m.Elif(~rested):
            m.d.sync += gap.eq(gap - 1)
        m.d.sync += [is0.eq(count == 0), is1.eq(count == 1), is2.eq(count == 2),
                     is_full.eq(count == P + 2), in_body.eq(count <= P),
                     not_over.eq(count != P + 3), is_step.eq(type_[2:] == p.T_STEP >> 2),
                     is_info.eq(type_ == p.T_INFO), crc_ok.eq(crc.match_detected)]
        # the verdict: where an END goes (STAY: an empty frame, the leading END of the next
        # one) and the reply it queues
        STAY, STEP, REPLY, ERROR = range(4)
        go, go_code = Signal(2), Signal(8)
        with m.If(bad_escape | esc):
            m.d.sync += [go.eq(ERROR), go_code.eq(p.T_ERROR | p.E_ESCAPE)]
        with m.Elif(bad_line):
            m.d.sync += [go.eq(ERROR), go_code.eq(p.T_ERROR | p.E_LINE)]
        with m.Elif(is0):
            m.d.sync += [go.eq(STAY), go_code.eq(0)]
        with m.Elif(~crc_ok | is1):
            m.d.sync += [go.eq(ERROR), go_code.eq(p.T_ERROR | p.E_CRC)]
        with m.Elif(is_step & is_full):
            m.d.sync += [go.eq(STEP), go_code.eq(0)]
        with m.Elif(is_info & is2):
            m.d.sync += [go.eq(REPLY), go_code.eq(p.T_INFO)]
        with m.Elif(is_step | is_info):
            m.d.sync += [go.eq(ERROR), go_code.eq(p.T_ERROR | p.E_LENGTH)]
        with m.Else():
            m.d.sync += [go.eq(ERROR), go_code.eq(p.T_ERROR | p.E_TYPE)]

        byte = Signal(8)  # the unescaped byte of this entry
        m.d.comb += [crc.data.eq(byte), crc.start.eq(is0 & take)]

        def restart():
            return [count.eq(0), esc.eq(0), bad_line.eq(0), bad_escape.eq(0)]

        def queue(c):
            return code.eq(c)

        with m.FSM():
            with m.State("RECV"):
                m.d.comb += take.eq(full & rested)
                with m.If(take):
                    with m.If(is_error):
                        m.d.sync += bad_line.eq(1)
                    with m.Elif(is_idle):
                        with m.If(~is0 | esc | bad_line | bad_escape):
                            m.d.sync += restart() + [queue(p.T_ERROR | p.E_TIMEOUT)]
                            m.next = "ERROR"
                    with m.Elif(is_byte):
                        with m.If(is_end):
                            m.d.sync += restart() + [queue(go_code)]
                            with m.Switch(go):
                                with m.Case(STEP):
                                    m.next = "STEP"
                                with m.Case(REPLY):
                                    m.next = "REPLY"
                                with m.Case(ERROR):
                                    m.next = "ERROR"
                        with m.Elif(is_esc & ~esc):
                            m.d.sync += esc.eq(1)
                        with m.Else():
                            m.d.sync += esc.eq(0)
                            m.d.comb += [byte.eq(entry.data), crc.valid.eq(1)]
                            with m.If(esc):
                                with m.If(is_esc_end):
                                    m.d.comb += byte.eq(p.END)
                                with m.Elif(is_esc_esc):
                                    m.d.comb += byte.eq(p.ESC)
                                with m.Else():
                                    m.d.sync += bad_escape.eq(1)
                            with m.If(is0):
                                m.d.sync += type_.eq(byte)
                            with m.Elif(in_body):
                                m.d.sync += payload.eq(Cat(payload[8:], byte))
                            with m.If(not_over):
                                m.d.sync += count.eq(count + 1)
            with m.State("STEP"):
                m.d.comb += self.step.valid.eq(1)
                with m.If(self.step.ready):
                    if self.emit == "last":  # steps that emit nothing are answered with ACK
                        m.d.sync += queue(p.T_ACK)
                        m.next = "RECV"
                        with m.If(~type_[1]):
                            m.next = "REPLY"
                    else:
                        m.next = "RECV"
            with m.State("REPLY"):  # ACK and INFO wait for room
                m.d.comb += [fifo.w_en.eq(1), fifo.w_data.eq(code)]
                with m.If(fifo.w_rdy):
                    m.next = "RECV"
            with m.State("ERROR"):  # errors never wait
                m.d.comb += [fifo.w_en.eq(1), fifo.w_data.eq(code)]
                m.next = "RECV"
        return m
