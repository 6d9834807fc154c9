"""The supported boards and the board top: clock (PLL or oscillator), UART pins, BoardCore.

A `Board` names its amaranth-boards platform, its oscillator, how a PLL is set up on it and
which nextpnr utilisation entries count as LUTs, flip-flops, block RAMs and DSPs.
"""

from dataclasses import dataclass

from amaranth import ClockDomain, Module, Signal
from amaranth.lib import io, wiring

from . import pll as pll_
from . import protocol
from .core import BoardCore, uart_divisor
from .rejecting import rejecting


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    platform_name: str  # attribute of amaranth_boards.<module>
    module: str
    osc: tuple[str, int]  # the oscillator's resource
    osc_hz: int
    family: str  # "ice40" or "ecp5"
    bitstream_ext: str
    lut_cell: str  # nextpnr utilisation entries
    ff_cell: str | None  # None: count flip-flops in the yosys statistics
    bram_cell: str
    dsp_cell: str
    fifo_depth: int  # bytes buffered from the UART: one block RAM's worth
    pll: bool = True  # False: always the oscillator's clock (boards derived by catalog.py)
    dsp_blocks: bool = True  # the part has DSP blocks (iCE40 HX/LP parts have none)

    def platform(self):
        import importlib
        return getattr(importlib.import_module(f"amaranth_boards.{self.module}"),
                       self.platform_name)()

    def pll_config(self, clock_hz: float, *, at_most: bool = False) -> pll_.PLLConfig | None:
        """None when the oscillator itself is the clock."""
        if clock_hz == self.osc_hz:
            return None
        if not self.pll:
            raise ValueError(f"the {self.name} runs at its oscillator's "
                             f"{self.osc_hz / 1e6:g} MHz (no PLL set-up for this board), "
                             f"not {clock_hz / 1e6:g} MHz")
        search = pll_.ice40_params if self.family == "ice40" else pll_.ecp5_params
        return search(self.osc_hz, clock_hz, at_most=at_most)

    def pll_clock_for(self, limit_hz: float, baud: int) -> float | None:
        """The fastest PLL clock not above `limit_hz` that makes `baud` within 1% (a clock near
        a whole multiple of the baud rate), or None."""
        for k in range(int(limit_hz // baud), 3, -1):
            try:
                cfg = self.pll_config(k * baud)
            except ValueError:
                continue
            if cfg is None or cfg.f_out > limit_hz:
                continue
            try:
                uart_divisor(round(cfg.f_out), baud)
            except ValueError:
                continue
            return cfg.f_out
        return None


BOARDS = {
    "icebreaker": Board(
        "icebreaker", "iCEBreaker (iCE40UP5K-SG48)", "ICEBreakerPlatform", "icebreaker",
        ("clk12", 0), 12_000_000, "ice40", "bin",
        "ICESTORM_LC", None, "ICESTORM_RAM", "ICESTORM_DSP", 257),
    "ulx3s": Board(
        "ulx3s", "ULX3S (ECP5 LFE5U-85F)", "ULX3S_85F_Platform", "ulx3s",
        ("clk25", 0), 25_000_000, "ecp5", "bit",
        "TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", 1025),
}


class BoardTop(wiring.Component):
    """The whole design for a board: `core` (a ModelTop) behind the UART on the board's USB
    serial port, clocked at `clock_hz` (through the PLL when that is not the oscillator).
    The first LED blinks about once a second while the clock runs."""

    def __init__(self, core, *, board: Board, clock_hz: float, baud: int, emit: str,
                 fingerprint: int):
        with rejecting(self, core):
            if not isinstance(board, Board):
                raise TypeError(f"board must be one of hw.board.top.BOARDS, not {board!r}")
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
            cls = pll_.ICE40PLL if self.board.family == "ice40" else pll_.ECP5PLL
            m.submodules.pll = cls(self.pll_config, self.board.osc, cd)
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
