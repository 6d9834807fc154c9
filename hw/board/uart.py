"""8N1 UART receiver and transmitter (no flow control: the boards' USB serial has only rx/tx).

The receiver never stalls the line: it hands each byte to its output stream and marks the
stream when something went wrong (a bad stop bit, a byte lost because the stream was not
taken in time) or when the line went quiet, so the frame layer can drop a broken frame and
resynchronise instead of waiting forever.
"""


from amaranth import C, Cat, Module, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .rejecting import rejecting


class RxKind(enum.Enum, shape=2):
    BYTE = 0
    ERROR = 1  # a framing error or an overrun happened just before this entry
    IDLE = 2  # the line has been quiet for `idle_cycles` after some bytes


RxEntry = data.StructLayout({"data": 8, "kind": RxKind})


def _check_divisor(divisor) -> int:
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 4:
        raise ValueError(f"divisor must be an integer of at least 4 clock cycles per bit, "
                         f"not {divisor!r}")
    return divisor


class UARTRx(wiring.Component):
    """Receives 8N1 bytes from `rx` sampled in the middle of each bit.

    `o` carries RxEntry: a byte, an ERROR marker, or an IDLE marker. An entry waits in `o`
    until taken (the next one may enter a cycle later); a byte that completes meanwhile is
    lost and reported as ERROR."""

    rx: In(1, init=1)
    o: Out(stream.Signature(RxEntry))

    def __init__(self, *, divisor: int, idle_cycles: int):
        with rejecting(self):
            self.divisor = _check_divisor(divisor)
            if not isinstance(idle_cycles, int) or isinstance(idle_cycles, bool) \
                    or idle_cycles < 20 * divisor:
                raise ValueError(f"idle_cycles must be an integer of at least two byte times "
                                 f"({20 * divisor} cycles), not {idle_cycles!r}")
        self.idle_cycles = idle_cycles
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)

        timer = Signal(range(max(self.divisor, 2)))
        bits = Signal(range(9))
        shreg = Signal(8)
        error_pending = Signal()
        got_byte = Signal()
        idle = Signal(range(self.idle_cycles + 1))
        since_idle = Signal()  # a byte or error arrived since the last IDLE marker

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        # Completed events go to the output when it is free; ERROR first so that it lands
        # before the byte that follows it. Free means empty: an entry taken this cycle frees
        # the output a cycle later (bytes are hundreds of cycles apart), so the consumer's
        # ready never reaches this logic in the same cycle (it was the iCEBreaker's critical
        # path: the rx FIFO's level through `ready` into the output's load enable)
        free = ~self.o.valid
        with m.If(got_byte):
            with m.If(free & ~error_pending):
                m.d.sync += [self.o.valid.eq(1), self.o.payload.data.eq(shreg),
                             self.o.payload.kind.eq(RxKind.BYTE)]
            with m.Else():
                m.d.sync += error_pending.eq(1)
        with m.Elif(error_pending & free):
            m.d.sync += [self.o.valid.eq(1), self.o.payload.kind.eq(RxKind.ERROR),
                         error_pending.eq(0)]
        with m.Elif(since_idle & (idle == self.idle_cycles) & free):
            m.d.sync += [self.o.valid.eq(1), self.o.payload.kind.eq(RxKind.IDLE),
                         since_idle.eq(0)]

        m.d.comb += got_byte.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(idle != self.idle_cycles):
                    m.d.sync += idle.eq(idle + 1)
                with m.If(~rx):
                    m.d.sync += [timer.eq(self.divisor // 2 - 1), idle.eq(0)]
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(0)]
                    m.next = "DATA"
                    with m.If(rx):  # a glitch, not a start bit
                        m.next = "IDLE"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), shreg.eq(Cat(shreg[1:], rx)),
                                 bits.eq(bits + 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += since_idle.eq(1)
                    with m.If(rx):
                        m.d.comb += got_byte.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += error_pending.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):  # wait for the line to return high before the next start
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """Sends each byte of `i` as 8N1 on `tx`."""

    tx: Out(1, init=1)
    i: In(stream.Signature(8))

    def __init__(self, *, divisor: int):
        with rejecting(self):
            self.divisor = _check_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        shreg = Signal(10, init=0x3FF)
        left = Signal(range(11))
        m.d.comb += self.tx.eq(shreg[0])
        with m.If(left == 0):
            m.d.comb += self.i.ready.eq(1)
            with m.If(self.i.valid):
                m.d.sync += [shreg.eq(Cat(C(0, 1), self.i.payload, C(1, 1))),
                             left.eq(10), timer.eq(self.divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                m.d.sync += [shreg.eq(Cat(shreg[1:], C(1, 1))), left.eq(left - 1),
                             timer.eq(self.divisor - 1)]
        return m
