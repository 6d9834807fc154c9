"""The board's logic without pins or clocks: a model core behind the UART link.

    rx pin -> UARTRx -> byte FIFO -> FrameDecoder -> core.i
    tx pin <- UARTTx <- FrameEncoder <- core.o (and the decoder's replies)

`BoardCore` is what the board top instantiates and what the cocotb test simulates through
its serial lines; `link` says what its frames carry (the host reads the same from INFO).

A reloadable core (one with a `load` port: hw.gen.loadport) gets a Loader (hw/board/loader.py)
beside the decoder: LOAD frames write its weight memories, COMMIT makes the new model run, and
INFO reports the core's shape fingerprint and the loader's state and model fingerprint.
"""

from amaranth import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from . import protocol as p
from .loader import Loader
from .rejecting import rejecting
from .rx import FrameDecoder, step_fields
from .tx import FrameEncoder, out_fields
from .uart import RxEntry, UARTRx, UARTTx


def _positive_int(value, what: str, least: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"{what} must be an integer of at least {least}, not {value!r}")
    return value


def uart_divisor(clock_hz: int, baud: int) -> int:
    """Clock cycles per bit; the rate must be within 1% so a 10-bit frame stays in its bits."""
    _positive_int(clock_hz, "clock_hz")
    _positive_int(baud, "baud")
    divisor = round(clock_hz / baud)
    if divisor < 4:
        raise ValueError(f"a {clock_hz / 1e6:g} MHz clock is too slow for {baud} baud "
                         f"(needs at least 4 cycles per bit)")
    error = abs(clock_hz / divisor - baud) / baud
    if error > 0.01:
        raise ValueError(f"{baud} baud from a {clock_hz / 1e6:g} MHz clock is off by "
                         f"{100 * error:.1f}% (at most 1%); pick another --baud or --clock-mhz")
    return divisor


class BoardCore(wiring.Component):
    """`core` (a component with the model top's `i` and `o` streams) behind the UART link.

    `fifo_depth` bytes are buffered between the UART and the decoder; `timeout_s` of silence
    inside a frame drops it with an ERROR reply. A reloadable core (a `load` port) names its
    memories (`load_memories`), its shape (`shape_fingerprint`) and whether its memories start
    with the model whose fingerprint is `fingerprint` (`preloaded`)."""

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, core, *, emit: str, fingerprint: int, clock_hz: int, baud: int,
                 fifo_depth: int = 257, timeout_s: float = 0.02):
        with rejecting(self, core):  # the core would have been our submodule
            members = getattr(core, "signature", None)
            if members is None or "i" not in members.members or "o" not in members.members:
                raise TypeError(f"core must be a component with 'i' and 'o' streams, "
                                f"not {core!r}")
            self.divisor = uart_divisor(clock_hz, baud)
            self.fifo_depth = _positive_int(fifo_depth, "fifo_depth", 4)
            if not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
                raise ValueError(f"timeout_s must be a positive number of seconds, "
                                 f"not {timeout_s!r}")
            if emit not in p.EMIT_CODES:
                raise ValueError(f"emit must be one of {', '.join(p.EMIT_CODES)}, "
                                 f"not {emit!r}")
        self.core = core
        self.reloadable = "load" in core.signature.members
        self.loader = None
        shape = 0
        if self.reloadable:
            shape = core.shape_fingerprint
            self.loader = Loader(memories=core.load_memories, running=core.preloaded,
                                 fingerprint=fingerprint)
        self.idle_cycles = max(round(timeout_s * clock_hz), 20 * self.divisor)
        self.clock_hz, self.baud = clock_hz, baud
        self.emit = emit
        n_in, in_bits = step_fields(core.i.payload.shape())
        self.out_count = getattr(core, "out_count", None)  # a streamed output's elements
        n_out, out_bits, argmax_bits = out_fields(core.o.payload.shape(), self.out_count)
        self.link = p.Link(
            input_size=n_in, in_bytes=p.nbytes(in_bits), out_n=n_out,
            out_bytes=p.nbytes(out_bits), argmax_bytes=p.nbytes(argmax_bits), emit=emit,
            fingerprint=fingerprint if not self.reloadable or core.preloaded else 0,
            fifo_depth=self.fifo_depth, clock_hz=clock_hz, shape=shape,
            state=p.RUNNING if not self.reloadable or core.preloaded else p.LOADING)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        m.submodules.uart_rx = urx = UARTRx(divisor=self.divisor, idle_cycles=self.idle_cycles)
        m.submodules.uart_tx = utx = UARTTx(divisor=self.divisor)
        m.submodules.rx_fifo = fifo = SyncFIFOBuffered(width=RxEntry.size, depth=self.fifo_depth)
        m.submodules.decoder = dec = FrameDecoder(step_layout=self.core.i.payload.shape(),
                                                  emit=self.emit, loads=self.reloadable)
        info = self.link.info_payload()
        m.submodules.encoder = enc = FrameEncoder(out_layout=self.core.o.payload.shape(),
                                                  info_bytes=len(info), count=self.out_count)
        if self.reloadable:  # the model's fingerprint and the state are the loader's
            m.submodules.loader = ld = self.loader
            wiring.connect(m, dec.load, ld.i)
            wiring.connect(m, ld.reply, dec.lreply)
            wiring.connect(m, ld.load, self.core.load)
            m.d.comb += dec.running.eq(ld.state == p.RUNNING)
            fa, sa = p.INFO_FINGERPRINT_AT, p.INFO_STATE_AT
            m.d.comb += enc.info.eq(Cat(Const(info[0], 8), ld.fingerprint,
                                        Const(int.from_bytes(info[fa + 4:sa], "little"),
                                              8 * (sa - fa - 4)),
                                        ld.state, Const(0, 6)))
        else:
            m.d.comb += enc.info.eq(int.from_bytes(info, "little"))
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        m.d.comb += [fifo.w_data.eq(urx.o.payload), fifo.w_en.eq(urx.o.valid),
                     urx.o.ready.eq(fifo.w_rdy)]
        # a register between the FIFO's block RAM and the decoder: the decoder's logic starts
        # from a register (one byte every third cycle at most, far above the line rate)
        held, full = Signal(RxEntry.size), Signal()
        m.d.comb += [fifo.r_en.eq(~full), dec.i.payload.eq(held), dec.i.valid.eq(full)]
        with m.If(dec.i.ready):
            m.d.sync += full.eq(0)
        with m.If(~full & fifo.r_rdy):
            m.d.sync += [held.eq(fifo.r_data), full.eq(1)]
        wiring.connect(m, dec.step, self.core.i)
        wiring.connect(m, self.core.o, enc.out)
        wiring.connect(m, dec.reply, enc.reply)
        wiring.connect(m, enc.o, utx.i)
        return m
