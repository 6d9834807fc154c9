"""The board's loader: LOAD and COMMIT payloads in, the reloadable core's weight memories written,
and the board's state (docs/boards.md, "Reloading a model").

The frame decoder (hw/board/rx.py) hands it the payload bytes of LOAD and COMMIT frames as they
arrive, then the frame's end with its verdict (0, or the error code of a frame that failed its
CRC, its escaping or its line). A LOAD payload is a memory id, a 3-byte word address and whole
words (hw.board.protocol.load_payloads); each byte is written through the core's load interface
(hw.gen.loadport: a byte lane of a word) as soon as it comes, once the core is `ready`. Words
are written before their frame's CRC is known: what protects the model is the state.

From the first LOAD byte the state is LOADING and the decoder answers STEPs with E_NO_MODEL.
Every LOAD byte goes through a running CRC-32 (from the first LOAD after a COMMIT). A COMMIT
carries the host's CRC-32 of what it sent and the new model's fingerprint; it is accepted only
if a load has begun since the last COMMIT (else it changes nothing), no frame of the load was
bad (CRC, escape, line, length, memory or address out of range: `poisoned`), the CRC-32 matches
and as many words were written as the memories hold; then the state is RUNNING with the new
fingerprint, else FAILED (refusing, until a whole new load is committed). A corrupted COMMIT
frame itself changes nothing (the host may send it again). The state, fingerprint and load
bookkeeping survive a reset, as the memories do.
"""

from amaranth import Cat, Const, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.crc import Processor
from amaranth.lib.crc.catalog import CRC32_ISO_HDLC
from amaranth.lib.wiring import In, Out

from ..gen.loadport import LoadMemory, load_signature
from . import protocol as p
from .rejecting import rejecting

# a payload byte of a LOAD or COMMIT frame (`commit`), or its end (`end`: `data` is then 0, or
# the error code the frame's decoding found)
LoadByte = data.StructLayout({"data": 8, "end": 1, "commit": 1})


class Loader(wiring.Component):
    """Writes `memories` (hw.gen.loadport.LoadMemory, a memory's id its index) from LOAD
    payloads; `running`: the memories start with a model (their initial contents, whose
    fingerprint is `fingerprint`), else the board starts LOADING (nothing to run)."""

    def __init__(self, *, memories: list[LoadMemory], running: bool, fingerprint: int):
        with rejecting(self):
            if not memories or not all(isinstance(mm, LoadMemory) for mm in memories):
                raise ValueError(f"memories must be a non-empty list of LoadMemory, not "
                                 f"{memories!r}")
            if len(memories) > 256:
                raise ValueError(f"a LOAD names its memory in one byte: at most 256 "
                                 f"memories, not {len(memories)}")
            if max(mm.depth for mm in memories) > 1 << 8 * p.ADDR_BYTES:
                raise ValueError(f"a LOAD's address has {p.ADDR_BYTES} bytes: no memory may "
                                 f"be deeper than {1 << 8 * p.ADDR_BYTES} words")
        self.memories = list(memories)
        self.running, self.init_fingerprint = bool(running), fingerprint
        self.total_words = sum(mm.depth for mm in memories)
        super().__init__({"i": In(stream.Signature(LoadByte)), "reply": Out(stream.Signature(8)),
                          "load": Out(load_signature(self.memories)), "state": Out(2),
                          "fingerprint": Out(32)})

    def elaborate(self, platform):
        m = Module()
        mems = self.memories
        n_bytes = max(mm.word_bytes for mm in mems)
        m.submodules.crc = crc = Processor(CRC32_ISO_HDLC(8))

        # what describes the memories' contents survives a reset, as they do
        state = Signal(2, init=p.RUNNING if self.running else p.LOADING, reset_less=True)
        fp = Signal(32, init=self.init_fingerprint if self.running else 0, reset_less=True)
        begun = Signal(reset_less=True)  # a LOAD came since the last COMMIT (the CRC runs)
        poisoned = Signal(reset_less=True)  # a frame of this load was bad
        words = Signal(range(self.total_words + 2), reset_less=True)  # saturates past total
        m.d.comb += [self.state.eq(state), self.fingerprint.eq(fp)]

        # the frame in progress
        count = Signal(range(p.LOAD_HEADER + 10))  # header (or COMMIT) bytes so far
        mem = Signal(8)
        # the word address: as many bits as the deepest memory needs, `over` when the LOAD's
        # address has bits beyond them
        A = max(mm.depth for mm in mems).bit_length()
        addr, over = Signal(A), Signal()
        k = Signal(range(n_bytes))  # the byte of the word being written
        last_k = Signal(range(n_bytes))  # the memory's word bytes - 1
        wbyte = Signal(8)  # the byte being written
        in_range = Signal()  # `addr` < the memory's depth (registered with the address)
        skip = Signal()  # the rest of this frame is dropped (out of range)
        crc_ok = Signal()  # COMMIT: its CRC-32 bytes so far equal the board's
        new_fp = Signal(32)  # COMMIT: the fingerprint
        reply = Signal(8)
        ack = Const(p.T_ACK, 8)

        # a word is written a byte at a time (the memories' write ports have byte lanes), so
        # no word is ever assembled here
        m.d.comb += [self.load.mem.eq(mem), self.load.addr.eq(addr), self.load.lane.eq(k),
                     self.load.data.eq(wbyte)]
        byte, is_commit = self.i.payload.data, self.i.payload.commit
        m.d.comb += crc.data.eq(byte)

        with m.Switch(mem):
            for n, mm in enumerate(mems):
                with m.Case(n):
                    m.d.sync += in_range.eq(~over & (addr < mm.depth))
            with m.Default():
                m.d.sync += in_range.eq(0)

        def end_frame():
            return [count.eq(0), k.eq(0), skip.eq(0), over.eq(0)]

        def address_byte(j):
            """Byte j of the LOAD's address (little-endian) into `addr`, or `over`."""
            lo, n = 8 * j, min(8, max(0, A - 8 * j))
            out = [addr[lo:lo + n].eq(byte[:n])] if n else []
            if n < 8:
                out.append(over.eq(over | (byte[n:] != 0)))
            return out

        def answer(code):
            m.d.sync += reply.eq(code)
            m.next = "REPLY"

        with m.FSM():
            with m.State("TAKE"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid & self.i.payload.end):
                    m.d.sync += end_frame()
                    code = self.i.payload.data
                    with m.If(is_commit):
                        with m.If(code != 0):
                            answer(code)
                        with m.Elif(count != 8):
                            answer(p.T_ERROR | p.E_LENGTH)
                        with m.Else():
                            m.next = "COMMIT"
                    with m.Else():
                        m.d.sync += [begun.eq(1), state.eq(p.LOADING)]
                        with m.If(code != 0):
                            m.d.sync += poisoned.eq(1)
                            answer(code)
                        with m.Elif(skip | (count != p.LOAD_HEADER) | (k != 0)):
                            m.d.sync += poisoned.eq(1)
                            answer(p.T_ERROR | p.E_RANGE)
                        with m.Else():
                            answer(ack)
                with m.Elif(self.i.valid & is_commit):
                    with m.If(count != 9):  # past 8 bytes: too long, saturated
                        m.d.sync += count.eq(count + 1)
                    with m.If(count == 0):
                        m.d.sync += crc_ok.eq(byte == crc.crc[:8])
                    with m.Elif(count < 4):
                        m.d.sync += crc_ok.eq(crc_ok & (byte == crc.crc.word_select(
                            count[:2], 8)))
                    with m.Else():
                        m.d.sync += new_fp.eq(Cat(new_fp[8:], byte))
                with m.Elif(self.i.valid):  # a LOAD byte
                    m.d.comb += [crc.valid.eq(1), crc.start.eq(~begun)]
                    m.d.sync += [begun.eq(1), state.eq(p.LOADING)]
                    with m.If(count != p.LOAD_HEADER):
                        m.d.sync += count.eq(count + 1)
                        with m.If(count == 0):
                            m.d.sync += mem.eq(byte)
                            with m.Switch(byte):
                                for n, mm in enumerate(mems):
                                    with m.Case(n):
                                        m.d.sync += last_k.eq(mm.word_bytes - 1)
                                with m.Default():  # no such memory
                                    m.d.sync += [skip.eq(1), poisoned.eq(1)]
                        for j in range(p.ADDR_BYTES):
                            with m.If(count == j + 1):
                                m.d.sync += address_byte(j)
                    with m.Elif(~skip):
                        m.d.sync += wbyte.eq(byte)
                        m.next = "SETTLE"
            with m.State("SETTLE"):  # `in_range` follows the address
                m.next = "WRITE"
            with m.State("WRITE"):  # byte k of word `addr`, once the core is ready
                with m.If(~in_range):
                    m.d.sync += [skip.eq(1), poisoned.eq(1)]
                    m.next = "TAKE"
                with m.Elif(self.load.ready):
                    m.d.comb += self.load.en.eq(1)
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == last_k):  # the word is complete
                        m.d.sync += [k.eq(0), addr.eq(addr + 1)]
                        with m.If(words != self.total_words + 1):
                            m.d.sync += words.eq(words + 1)
                    m.next = "TAKE"
            with m.State("COMMIT"):
                # a COMMIT with no load begun changes nothing (a COMMIT sent again after its
                # reply was lost must not undo the first)
                ok = begun & ~poisoned & crc_ok & (words == self.total_words)
                m.d.sync += [begun.eq(0), poisoned.eq(0), words.eq(0)]
                with m.If(ok):
                    m.d.sync += [state.eq(p.RUNNING), fp.eq(new_fp)]
                    answer(ack)
                with m.Elif(~begun):
                    answer(p.T_ERROR | p.E_COMMIT)
                with m.Else():
                    m.d.sync += [state.eq(p.FAILED), fp.eq(0)]
                    answer(p.T_ERROR | p.E_COMMIT)
            with m.State("REPLY"):
                m.d.comb += [self.reply.valid.eq(1), self.reply.payload.eq(reply)]
                with m.If(self.reply.ready):
                    m.next = "TAKE"
        return m
