"""The board's frame decoder: UART entries in, model input beats and reply requests out.

It checks each frame (escaping, CRC, type, length) at its END byte, so a broken frame never
reaches the model: the frame is dropped and an ERROR reply is queued. A frame cut off by a
quiet line (the UART's IDLE marker) is dropped the same way, so garbage never leaves the
decoder waiting. Replies (ACK, INFO, ERROR type bytes) go out through a small FIFO; ERROR
replies are dropped when it is full (the host resynchronises on any error anyway), ACK and
INFO wait for room.

With a loader (`loads`, a reloadable board: hw/board/loader.py) the payload bytes of LOAD and
COMMIT frames go to it as they arrive, a byte behind (the last one is the frame's CRC), then
the frame's end with its verdict; the loader's reply is queued like the others. STEP frames are
answered with E_NO_MODEL while the loader says no model runs (`running` low).
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.crc import Processor
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from . import protocol as p
from .loader import LoadByte
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
    """Decodes STEP and INFO_REQ frames; `step` carries the model's input beats. With `loads`,
    LOAD and COMMIT frames go to `load` (a loader's input), its replies come on `lreply`."""

    def __init__(self, *, step_layout, emit: str, reply_depth: int = 16, loads: bool = False):
        with rejecting(self):
            if emit not in p.EMIT_CODES:
                raise ValueError(f"emit must be one of {', '.join(p.EMIT_CODES)}, "
                                 f"not {emit!r}")
            self.input_size, self.bits = step_fields(step_layout)
        self.in_bytes = p.nbytes(self.bits)
        self.payload_bytes = self.input_size * self.in_bytes
        self.emit = emit
        self.reply_depth = reply_depth
        self.loads = bool(loads)
        ports = {"i": In(stream.Signature(RxEntry)), "reply": Out(stream.Signature(8)),
                 "step": Out(stream.Signature(step_layout))}
        if self.loads:
            ports |= {"load": Out(stream.Signature(LoadByte)), "lreply": In(stream.Signature(8)),
                      "running": In(1)}
        super().__init__(ports)

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
        is_load = Signal()  # a LOAD or COMMIT frame (with a loader)
        running = self.running if self.loads else Const(1, 1)
        held, has_held = Signal(8), Signal()  # a LOAD payload byte, forwarded when the next
        # comes (the frame's last byte is its CRC)
        lbusy = self.load.valid if self.loads else 0
        # the entry, taken into a register with its classification, so that the frame logic
        # below starts from registers only; `take`: it is decoded this cycle
        entry = Signal(RxEntry)
        full, take = Signal(), Signal()
        is_byte, is_idle, is_error = Signal(), Signal(), Signal()
        is_end, is_esc, is_esc_end, is_esc_esc = Signal(), Signal(), Signal(), Signal()
        m.d.comb += self.i.ready.eq(~full)
        if self.loads:
            with m.If(self.load.ready):
                m.d.sync += self.load.valid.eq(0)
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
        if self.loads:
            m.d.sync += is_load.eq(type_[1:] == p.T_LOAD >> 1)
        # the verdict: where an END goes (STAY: an empty frame, the leading END of the next
        # one) and the reply it queues
        STAY, STEP, REPLY, ERROR, LOAD = range(5)
        go, go_code = Signal(3), Signal(8)
        with m.If(bad_escape | esc):
            m.d.sync += [go.eq(ERROR), go_code.eq(p.T_ERROR | p.E_ESCAPE)]
        with m.Elif(bad_line):
            m.d.sync += [go.eq(ERROR), go_code.eq(p.T_ERROR | p.E_LINE)]
        with m.Elif(is0):
            m.d.sync += [go.eq(STAY), go_code.eq(0)]
        with m.Elif(~crc_ok | is1):
            m.d.sync += [go.eq(ERROR), go_code.eq(p.T_ERROR | p.E_CRC)]
        with m.Elif(is_load):
            m.d.sync += [go.eq(LOAD), go_code.eq(0)]
        with m.Elif(is_step & is_full & ~running):
            m.d.sync += [go.eq(ERROR), go_code.eq(p.T_ERROR | p.E_NO_MODEL)]
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
            return [count.eq(0), esc.eq(0), bad_line.eq(0), bad_escape.eq(0), has_held.eq(0)]

        def to_loader(code):
            """The end of a LOAD or COMMIT frame (`code`: 0, or its error) to the loader."""
            m.d.sync += [self.load.valid.eq(1), self.load.payload.end.eq(1),
                         self.load.payload.data.eq(code), self.load.payload.commit.eq(type_[0])]
            m.next = "LWAIT"

        def queue(c):
            return code.eq(c)

        with m.FSM():
            with m.State("RECV"):
                # nothing is taken while a byte for the loader waits
                m.d.comb += take.eq(full & rested & ~lbusy)
                with m.If(take):
                    with m.If(is_error):
                        m.d.sync += bad_line.eq(1)
                    with m.Elif(is_idle):
                        with m.If(~is0 | esc | bad_line | bad_escape):
                            m.d.sync += restart() + [queue(p.T_ERROR | p.E_TIMEOUT)]
                            m.next = "ERROR"
                            if self.loads:
                                with m.If(is_load & ~is0):
                                    to_loader(p.T_ERROR | p.E_TIMEOUT)
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
                            if self.loads:  # (after the switch: this one decides)
                                with m.If(is_load & ~is0):  # whatever its verdict
                                    to_loader(Mux(go == ERROR, go_code, 0))
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
                            if self.loads:
                                with m.If(~is0 & is_load):
                                    m.d.sync += [held.eq(byte), has_held.eq(1)]
                                    with m.If(has_held):
                                        m.d.sync += [self.load.valid.eq(1),
                                                     self.load.payload.data.eq(held),
                                                     self.load.payload.end.eq(0),
                                                     self.load.payload.commit.eq(type_[0])]
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
            if self.loads:
                with m.State("LWAIT"):  # the loader's reply to a LOAD or COMMIT, queued
                    m.d.comb += [fifo.w_en.eq(self.lreply.valid),
                                 fifo.w_data.eq(self.lreply.payload),
                                 self.lreply.ready.eq(fifo.w_rdy)]
                    with m.If(self.lreply.valid & fifo.w_rdy):
                        m.next = "RECV"
        return m
