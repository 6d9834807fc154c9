"""A host transport for the simulated board: drives the top's `rx` line and listens on `tx`
with 8N1 framing, so hw/board/host.py runs unchanged against the cocotb simulation.

The host's blocking calls reach the simulator through cocotb's bridge/resume; timeouts are
in simulated seconds.
"""

from collections import deque

import cocotb
from cocotb.task import resume
from cocotb.triggers import ClockCycles, Event, FallingEdge, First, Timer


class SimTransport:
    def __init__(self, dut, *, bit_cycles: int, corrupt=None):
        """`corrupt`: {frame index: byte offset} flips bit 0 of that byte of that written frame
        (each write is one frame), to exercise the board's error path."""
        self.dut, self.bit_cycles = dut, bit_cycles
        self.corrupt = dict(corrupt or {})
        self.writes = 0
        self.to_board, self.from_board = deque(), bytearray()
        self.sending, self.arrived = Event(), Event()
        dut.rx.value = 1
        cocotb.start_soon(self._drive())
        cocotb.start_soon(self._listen())

    async def _drive(self):
        while True:
            if not self.to_board:
                self.sending.clear()
                await self.sending.wait()
                continue
            byte = self.to_board.popleft()
            for bit in [0] + [(byte >> k) & 1 for k in range(8)] + [1]:
                self.dut.rx.value = bit
                await ClockCycles(self.dut.clk, self.bit_cycles)

    async def _listen(self):
        while True:
            await FallingEdge(self.dut.tx)
            await ClockCycles(self.dut.clk, self.bit_cycles // 2)
            if int(self.dut.tx.value) != 0:
                continue  # a glitch, not a start bit
            byte = 0
            for k in range(8):
                await ClockCycles(self.dut.clk, self.bit_cycles)
                byte |= int(self.dut.tx.value) << k
            await ClockCycles(self.dut.clk, self.bit_cycles)
            assert int(self.dut.tx.value) == 1, "the board sent a bad stop bit"
            self.from_board.append(byte)
            self.arrived.set()

    @resume
    async def write(self, data: bytes) -> None:
        data = bytearray(data)
        if self.writes in self.corrupt:
            data[self.corrupt.pop(self.writes)] ^= 1
        self.writes += 1
        self.to_board.extend(data)
        self.sending.set()

    @resume
    async def read(self, timeout: float) -> bytes:
        if not self.from_board:
            self.arrived.clear()
            await First(self.arrived.wait(), Timer(round(timeout * 1e9), unit="ns"))
        out = bytes(self.from_board)
        self.from_board.clear()
        return out
