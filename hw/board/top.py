"""The board top: the clock (the board's PLL or its oscillator), the UART pins and a BoardCore.

The boards themselves (pins, family, PLL, calibration) are records in hw.board.registry.
"""

from amaranth import ClockDomain, Module, Signal
from amaranth.lib import io, wiring

from . import protocol
from .core import BoardCore
from .registry import Board
from .rejecting import rejecting


class BoardTop(wiring.Component):
    """The whole design for a board: `core` (a ModelTop) behind the UART on the board's USB
    serial port, clocked at `clock_hz` (through the PLL when that is not the oscillator).
    The first LED blinks about once a second while the clock runs."""

    def __init__(self, core, *, board: Board, clock_hz: float, baud: int, emit: str,
                 fingerprint: int):
        with rejecting(self, core):
            if not isinstance(board, Board):
                raise TypeError(f"board must be a hw.board.registry.Board, not {board!r}")
            self.board = board
            self.pll_config = board.pll_config(clock_hz)
            self.clock_hz = round(self.pll_config.f_out if self.pll_config else board.osc_hz)
            self.board_core = BoardCore(core, emit=emit, fingerprint=fingerprint,
                                        clock_hz=self.clock_hz, baud=baud,
                                        fifo_depth=board.fifo_depth)
        super().__init__({})

    @property
    def link(self) -> protocol.Link:
        return self.board_core.link

    def elaborate(self, platform):
        m = Module()
        if self.pll_config is not None:  # else the platform's default clock drives `sync`
            # the domain lives here, the PLL below drives it
            m.domains.sync = cd = ClockDomain("sync")
            m.submodules.pll = self.board.facts.pll_component(self.pll_config, self.board.osc,
                                                              cd)
        m.submodules.board_core = bc = self.board_core
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx_pin = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx_pin = tx = io.Buffer("o", uart.tx)
        m.d.comb += [bc.rx.eq(rx.i), tx.o.eq(bc.tx)]
        blink = Signal(range(self.clock_hz))
        led_on = Signal()
        m.d.sync += blink.eq(blink + 1)
        with m.If(blink == self.clock_hz // 2 - 1):
            m.d.sync += [blink.eq(0), led_on.eq(~led_on)]
        if ("led", 0) in platform.resources:  # a heartbeat where the board has an LED
            m.submodules.led_pin = led = io.Buffer("o", platform.request("led", 0, dir="-"))
            m.d.comb += led.o.eq(led_on)
        return m
