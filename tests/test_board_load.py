"""Reloading over the UART link (hw/board/loader.py, rx.py's LOAD path, protocol's LOAD and
COMMIT) in amaranth.sim, with a small stand-in reloadable core: every output is the one of
the model loaded, and a load that is cut off, corrupted or out of range leaves the board
refusing to run."""

import pytest
from amaranth import Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.board import protocol as p
from hw.board.loader import Loader
from hw.board.session import MemoryImage
from hw.gen.loadport import LoadMemory, load_signature
from tests.test_board_link import DIV, board, frames_of, run_line

MEMS = [LoadMemory("m0", 9, 3), LoadMemory("m1", 20, 4)]
SHAPE = 0x5EA0F00D
A = ([5, 0x1FF, 17], [1000, -3 & 0xFFFFF, 77, 0x7FFFF])  # the memories' initial contents
B = ([0x100, 3, 0x0FF], [-70000 & 0xFFFFF, 12, 0x80000, 9])


class TableCore(wiring.Component):
    """Stand-in reloadable model: out[k] = x[k] + m0[k] + m1[k] (signed words), each word
    read `stall` cycles after the one before, so a write during a step would show."""

    def __init__(self, *, stall=12, init=A, preloaded=True):
        self.stall, self.init = stall, init
        self.load_memories, self.shape_fingerprint, self.preloaded = MEMS, SHAPE, preloaded
        ilay = data.StructLayout({"data": data.ArrayLayout(signed(8), 3), "first": 1, "last": 1})
        olay = data.StructLayout({"data": data.ArrayLayout(signed(24), 3), "last": 1})
        super().__init__({"i": In(stream.Signature(ilay)), "o": Out(stream.Signature(olay)),
                          "load": In(load_signature(MEMS))})

    @staticmethod
    def reference(x, table) -> list[int]:
        def sx(v, bits):
            return v - (1 << bits) if v >> (bits - 1) else v
        return [int(x[k]) + sx(table[0][k], 9) + sx(table[1][k], 20) for k in range(3)]

    def elaborate(self, platform):
        m = Module()
        reads = []
        for n, (mm, init) in enumerate(zip(MEMS, self.init, strict=True)):
            m.submodules[mm.name] = mem = Memory(shape=unsigned(mm.lane_width),
                                                 depth=mm.depth, init=init)
            w = mem.write_port(granularity=8)
            m.d.comb += [w.addr.eq(self.load.addr),
                         w.data.eq(Cat(*[self.load.data] * mm.word_bytes)),
                         w.en.eq(Cat(*(self.load.en & (self.load.mem == n)
                                       & (self.load.lane == j) for j in range(mm.word_bytes))))]
            reads.append(mem.read_port(domain="comb"))
        x = [Signal(signed(8), name=f"x{k}") for k in range(3)]
        k, wait = Signal(range(4)), Signal(range(self.stall + 1))
        last = Signal()
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.i.ready.eq(~self.o.valid), self.load.ready.eq(~self.o.valid)]
                with m.If(self.i.valid & ~self.o.valid):
                    m.d.sync += [x[j].eq(self.i.payload.data[j]) for j in range(3)]
                    m.d.sync += [k.eq(0), wait.eq(self.stall), last.eq(self.i.payload.last)]
                    m.next = "READ"
            with m.State("READ"):
                with m.If(wait != 0):
                    m.d.sync += wait.eq(wait - 1)
                with m.Else():
                    m.d.comb += [r.addr.eq(k) for r in reads]
                    with m.Switch(k):
                        for j in range(3):
                            with m.Case(j):
                                m.d.sync += self.o.payload.data[j].eq(
                                    x[j] + reads[0].data[:9].as_signed()
                                    + reads[1].data[:20].as_signed())
                    m.d.sync += [k.eq(k + 1), wait.eq(self.stall)]
                    with m.If(k == 2):
                        m.d.sync += [self.o.valid.eq(1), self.o.payload.last.eq(last)]
                        m.next = "IDLE"
        return m


def image(table) -> list[MemoryImage]:
    return [MemoryImage(n, mm.width, tuple(table[n])) for n, mm in enumerate(MEMS)]


def load_frames(table, *, max_payload=12) -> tuple[list[bytes], int]:
    """(the LOAD frames of `table`, the CRC-32 of their payloads)."""
    pls = [pl for im in image(table)
           for pl in p.load_payloads(im.memory, im.width, list(im.words), max_payload=max_payload)]
    crc = 0
    for pl in pls:
        crc = p.crc32(pl, crc)
    return [p.frame(p.T_LOAD, pl) for pl in pls], crc


def commit(crc, fp=0xB0B0B0B0) -> bytes:
    return p.frame(p.T_COMMIT, p.commit_payload(crc, fp))


def step(link, x, last=True) -> bytes:
    return link.encode_step(x, first=True, last=last)


def talk(dut, tx: bytes, extra=4000) -> list:
    raw = run_line(dut, tx, cycles=len(tx) * 10 * DIV + extra)
    return frames_of(raw)


def types(frames) -> list:
    return [t for t, _ in frames]


def outs(link, frames) -> list:
    return [link.decode_out(pl)[0] for t, pl in frames if t & ~1 == p.T_OUT]


def info_of(frames) -> p.Link:
    (pl,) = [pl for t, pl in frames if t == p.T_INFO]
    return p.Link.from_info_payload(pl)


X = [3, -4, 100]


def test_info_names_the_shape_and_the_preloaded_model():
    dut = board(TableCore(), "every")
    fr = talk(dut, p.frame(p.T_INFO))
    link = info_of(fr)
    assert link == dut.link
    assert (link.shape, link.state, link.fingerprint, link.version) == (
        SHAPE, p.RUNNING, 0x1234ABCD, p.VERSION)
    assert link.reloadable


def test_load_then_run_the_new_model():
    dut = board(TableCore(), "every")
    frames, crc = load_frames(B)
    tx = step(dut.link, X) + b"".join(frames) + commit(crc) + step(dut.link, X) \
        + p.frame(p.T_INFO)
    fr = talk(dut, tx)
    assert types(fr) == [p.T_OUT | 1] + [p.T_ACK] * len(frames) + [p.T_ACK, p.T_OUT | 1,
                                                                      p.T_INFO]
    assert outs(dut.link, fr) == [TableCore.reference(X, A), TableCore.reference(X, B)]
    info = info_of(fr)
    assert (info.state, info.fingerprint) == (p.RUNNING, 0xB0B0B0B0)


def test_a_step_in_flight_finishes_with_the_old_weights():
    """A LOAD right behind a STEP: the core reads a word every 200 cycles, the LOAD's words
    (a byte every 40) arrive meanwhile and are written only once the core is ready: the
    output is all A's."""
    dut = board(TableCore(stall=200), "every")
    frames, crc = load_frames(B, max_payload=64)
    tx = step(dut.link, X) + frames[0]
    fr = talk(dut, tx)
    assert types(fr) == [p.T_OUT | 1, p.T_ACK]
    assert outs(dut.link, fr) == [TableCore.reference(X, A)]


def test_steps_are_refused_from_the_first_load_until_the_commit():
    dut = board(TableCore(), "every")
    frames, crc = load_frames(B)
    tx = frames[0] + step(dut.link, X) + b"".join(frames[1:]) + step(dut.link, X) \
        + p.frame(p.T_INFO) + commit(crc) + step(dut.link, X)
    fr = talk(dut, tx)
    refused = p.T_ERROR | p.E_NO_MODEL
    assert types(fr) == ([p.T_ACK, refused] + [p.T_ACK] * (len(frames) - 1)
                         + [refused, p.T_INFO, p.T_ACK, p.T_OUT | 1])
    assert info_of(fr).state == p.LOADING
    assert outs(dut.link, fr) == [TableCore.reference(X, B)]


def test_a_core_that_is_not_preloaded_refuses_steps_until_its_first_load():
    """Memories in the iCE40UP5K's SPRAM hold nothing at power-up (ModelTop.preloaded false):
    the board starts loading, names no model, refuses steps, and runs the model loaded."""
    dut = board(TableCore(preloaded=False), "every")
    frames, crc = load_frames(B)
    tx = p.frame(p.T_INFO) + step(dut.link, X) + b"".join(frames) + commit(crc) \
        + step(dut.link, X)
    fr = talk(dut, tx)
    assert types(fr) == ([p.T_INFO, p.T_ERROR | p.E_NO_MODEL] + [p.T_ACK] * len(frames)
                         + [p.T_ACK, p.T_OUT | 1])
    assert (info_of(fr).state, info_of(fr).fingerprint) == (p.LOADING, 0)
    assert outs(dut.link, fr) == [TableCore.reference(X, B)]


def corrupted(frame: bytes, at: int = 5) -> bytes:
    out = bytearray(frame)
    out[at] ^= 0x04
    return bytes(out)


def bad_crc_byte(payload: bytes) -> bytes:
    """A LOAD frame whose payload is intact and whose CRC-8 is wrong."""
    body = bytes((p.T_LOAD,)) + payload
    return bytes((p.END,)) + p.escape(body + bytes((p.crc8(body) ^ 1,))) + bytes((p.END,))


def cases(frames, crc):
    """name: (the bytes of a broken load, its replies before the COMMIT's)."""
    n = len(frames)
    ack = p.T_ACK
    oob_mem = p.frame(p.T_LOAD, bytes((7, 0, 0, 0, 1, 2)))
    oob_addr = p.frame(p.T_LOAD, bytes((1, 3, 0, 0)) + bytes(6))  # word 3 fine, word 4 not
    partial = p.frame(p.T_LOAD, bytes((0, 0, 0, 0, 1, 2, 3)))  # 1.5 words of 2 bytes
    return {
        "corrupted frame": (b"".join(frames[:1]) + corrupted(frames[1]) + b"".join(frames[2:]),
                            [ack, p.T_ERROR | p.E_CRC] + [ack] * (n - 2)),
        # the payload arrived intact, only its CRC-8 did not: any bad frame fails the load
        "bad crc byte": (b"".join(frames[:1]) + bad_crc_byte(p.Deframer().feed(frames[1])[0][1])
                         + b"".join(frames[2:]), [ack, p.T_ERROR | p.E_CRC] + [ack] * (n - 2)),
        "cut off": (b"".join(frames[:-1]), [ack] * (n - 1)),
        "memory out of range": (b"".join(frames) + oob_mem,
                                [ack] * n + [p.T_ERROR | p.E_RANGE]),
        "address out of range": (b"".join(frames) + oob_addr,
                                 [ack] * n + [p.T_ERROR | p.E_RANGE]),
        "partial word": (b"".join(frames) + partial, [ack] * n + [p.T_ERROR | p.E_RANGE]),
        "a frame twice": (b"".join(frames) + frames[0], [ack] * (n + 1)),
    }


@pytest.mark.parametrize("name", ["corrupted frame", "bad crc byte", "cut off",
                                  "memory out of range", "address out of range", "partial word",
                                  "a frame twice"])
def test_a_broken_load_leaves_the_board_refusing_then_a_good_load_runs(name):
    dut = board(TableCore(), "every")
    frames, crc = load_frames(B)
    bad, replies = cases(frames, crc)[name]
    good, _ = load_frames(A)  # A again: its words differ from B's
    _, crc_a = load_frames(A)
    tx = (bad + commit(crc) + step(dut.link, X) + p.frame(p.T_INFO)
          + b"".join(good) + commit(crc_a, 0xA) + step(dut.link, X))
    fr = talk(dut, tx, extra=8000)
    assert types(fr) == replies + [p.T_ERROR | p.E_COMMIT, p.T_ERROR | p.E_NO_MODEL, p.T_INFO] \
        + [p.T_ACK] * len(good) + [p.T_ACK, p.T_OUT | 1]
    info = info_of(fr)
    assert (info.state, info.fingerprint) == (p.FAILED, 0)
    assert outs(dut.link, fr) == [TableCore.reference(X, A)]


def test_a_load_cut_off_by_a_quiet_line_is_refused():
    dut = board(TableCore(), "every", timeout_s=0.2)  # 800 cycles
    frames, crc = load_frames(B)
    tx = b"".join(frames[:-1]) + frames[-1][:6] + b"".join(frames) + commit(crc)
    gaps = [0] * len(tx)
    gaps[sum(map(len, frames[:-1])) + 6] = 250  # bit times of silence inside the last frame
    raw = run_line(dut, tx, gaps=gaps, cycles=(len(tx) * 10 + 250) * DIV + 4000)
    ts = types(frames_of(raw))
    assert ts[len(frames) - 1] == p.T_ERROR | p.E_TIMEOUT
    assert ts[-1] == p.T_ERROR | p.E_COMMIT


def test_commit_without_a_load_changes_nothing_and_a_corrupted_commit_can_be_sent_again():
    dut = board(TableCore(), "every")
    frames, crc = load_frames(B)
    tx = (commit(crc) + step(dut.link, X) + b"".join(frames) + corrupted(commit(crc), 3)
          + commit(crc) + step(dut.link, X))
    fr = talk(dut, tx)
    assert types(fr) == ([p.T_ERROR | p.E_COMMIT, p.T_OUT | 1] + [p.T_ACK] * len(frames)
                         + [p.T_ERROR | p.E_CRC, p.T_ACK, p.T_OUT | 1])
    assert outs(dut.link, fr) == [TableCore.reference(X, A), TableCore.reference(X, B)]


def test_a_fixed_board_takes_no_load():
    from tests.test_board_link import SumCore
    dut = board(SumCore(), "every")
    frames, crc = load_frames(B)
    fr = talk(dut, frames[0] + p.frame(p.T_INFO))
    assert types(fr) == [p.T_ERROR | p.E_TYPE, p.T_INFO]
    info = info_of(fr)
    assert not info.reloadable and info.state == p.RUNNING


def test_loader_refuses_what_a_load_frame_cannot_address():
    with pytest.raises(ValueError, match=r"memories must be a non-empty list of LoadMemory"):
        Loader(memories=[], running=True, fingerprint=0)
    with pytest.raises(ValueError, match=r"no memory may be deeper than 16777216 words"):
        Loader(memories=[LoadMemory("big", 8, 1 << 25)], running=True, fingerprint=0)


def test_protocol_payloads_and_info_versions():
    pls = p.load_payloads(2, 12, [1, 0xFFF, 0x800], max_payload=8)
    assert pls == [bytes((2, 0, 0, 0, 1, 0, 0xFF, 0x0F)), bytes((2, 2, 0, 0, 0, 8))]
    with pytest.raises(ValueError, match=r"word 1 of memory 2 is 4096, not a 12-bit word"):
        p.load_payloads(2, 12, [1, 0x1000])
    link = p.Link(3, 1, 3, 2, 1, "every", 0x1234, 64, 12_000_000, shape=0xAB, state=p.FAILED)
    assert p.Link.from_info_payload(link.info_payload()) == link
    v1 = bytes((1,)) + link.info_payload()[1:p.INFO_STATE_AT - 4]
    old = p.Link.from_info_payload(v1)
    assert (old.version, old.shape, old.state, old.fingerprint) == (1, 0, p.RUNNING, 0x1234)
    with pytest.raises(ValueError, match=r"the board speaks protocol version 3, this host 1 "
                                         r"to 2"):
        p.Link.from_info_payload(bytes((3,)) + bytes(30))
    assert p.crc32(b"123456789") == 0xCBF43926  # the catalogue's check value

