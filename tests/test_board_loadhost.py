"""The host side of a load (hw/board/session.py's Session.load, hw/board/load.py's checks)
against a Python stand-in for a reloadable board's link: flow control, the whole load again
after an error, the refusals before a byte is sent. (The gateware itself: tests/
test_board_load.py in amaranth.sim, sim/test_board_reload.py in cocotb.)"""

from pathlib import Path

import pytest

from hw.board import protocol as p
from hw.board.load import Prepared, check_board, load_prepared
from hw.board.session import LinkError, MemoryImage, Session, Timing
from hw.errors import UserError

FAST = Timing(reply_s=0.01, quiet_s=0.001, retries=2)
SHAPE = 0x0A0B0C0D


class LoadBoard:
    """Speaks the LOAD/COMMIT side of the protocol: each LOAD's words are kept, every payload
    byte goes through the running CRC-32, a COMMIT is accepted when the CRC matches and
    nothing went wrong. `fail`: LOAD frame indices (counting every LOAD received) answered
    with ERROR (their frame CRC 'failed'). It processes `per_read` frames a host read and
    answers ERROR (line) when the host overfills its FIFO."""

    def __init__(self, memories, *, fifo_depth=64, per_read=2, fail=(), version=p.VERSION,
                 shape=SHAPE):
        self.memories = memories  # [(width, depth)]
        self.link = p.Link(3, 1, 3, 2, 1, "every", 0x11111111, fifo_depth, 12_000_000,
                           shape=shape, version=version)
        self.words = [[None] * d for _, d in memories]
        self.per_read, self.fail = per_read, set(fail)
        self.deframer, self.buffered, self.replies = p.Deframer(), [], bytearray()
        self.loads = self.max_fill = self.bytes_in = 0
        self.crc, self.begun, self.poisoned = 0, False, False
        self.sent = []  # every frame type received, in order

    def write(self, data: bytes):
        for fr in self.deframer.feed(data):
            self.buffered.append(fr)
            if fr[0] in (p.T_LOAD, p.T_COMMIT):
                self.bytes_in += len(data)  # the host writes a frame at a time
        self.max_fill = max(self.max_fill, sum(len(p.frame(*f)) for f in self.buffered))
        if self.max_fill > self.link.fifo_depth:
            raise AssertionError("the host overfilled the board's FIFO")

    def read(self, timeout):
        for _ in range(self.per_read):
            if self.buffered:
                self._process(*self.buffered.pop(0))
        out, self.replies = bytes(self.replies), bytearray()
        return out

    def _reply(self, t, payload=b""):
        self.replies += p.frame(t, payload)

    def _process(self, type_, payload):
        self.sent.append(type_)
        if type_ == p.T_INFO:
            if self.link.version == 1:
                self._reply(p.T_INFO, bytes((1,)) + self.link.info_payload()[1:p.INFO_STATE_AT - 4])
            else:
                self._reply(p.T_INFO, self.link.info_payload())
        elif type_ == p.T_LOAD:
            k, self.loads = self.loads, self.loads + 1
            self.crc = p.crc32(payload, self.crc if self.begun else 0)
            self.begun = True
            self.link = self._with(state=p.LOADING)
            if k in self.fail:
                self.poisoned = True
                return self._reply(p.T_ERROR | p.E_CRC)
            mem, addr = payload[0], int.from_bytes(payload[1:4], "little")
            width = self.memories[mem][0]
            nb = p.nbytes(width)
            for j in range(4, len(payload), nb):
                self.words[mem][addr] = int.from_bytes(payload[j:j + nb], "little")
                addr += 1
            self._reply(p.T_ACK)
        elif type_ == p.T_COMMIT:
            crc, fp = int.from_bytes(payload[:4], "little"), int.from_bytes(payload[4:], "little")
            if not self.begun:
                return self._reply(p.T_ERROR | p.E_COMMIT)
            ok = not self.poisoned and crc == self.crc
            self.begun = self.poisoned = False
            self.link = self._with(state=p.RUNNING if ok else p.FAILED,
                                   fingerprint=fp if ok else 0)
            self._reply(p.T_ACK if ok else p.T_ERROR | p.E_COMMIT)

    def _with(self, **kw):
        import dataclasses
        return dataclasses.replace(self.link, **kw)


MEMS = [(12, 40), (37, 9), (3, 5)]


def image():
    return [MemoryImage(k, w, tuple((7 * i + k) % (1 << w) for i in range(d)))
            for k, (w, d) in enumerate(MEMS)]


def test_load_writes_every_word_within_the_fifo_and_commits():
    board = LoadBoard(MEMS, fifo_depth=64)
    res = Session(board, timing=FAST).load(board.link, image(), 0xFEEDF00D)
    assert [board.words[k] for k in range(3)] == [list(im.words) for im in image()]
    assert board.max_fill <= 64 and res.attempts == 1
    assert board.link.state == p.RUNNING and board.link.fingerprint == 0xFEEDF00D
    assert res.frames == board.loads and board.sent.count(p.T_COMMIT) == 1


def test_a_failed_frame_aborts_and_the_whole_load_is_sent_again():
    board = LoadBoard(MEMS, fail={3})
    res = Session(board, timing=FAST).load(board.link, image(), 0xFEEDF00D)
    assert res.attempts == 2 and board.link.state == p.RUNNING
    # the first attempt stopped at the error (with at most a few frames in flight), then a
    # COMMIT that fails ended it on the board, then the whole load and its COMMIT
    first = board.sent.index(p.T_COMMIT)
    assert 4 <= board.sent[:first].count(p.T_LOAD) < res.frames
    assert board.sent[first + 1:].count(p.T_LOAD) == res.frames
    assert board.sent.count(p.T_COMMIT) == 2
    assert [board.words[k] for k in range(3)] == [list(im.words) for im in image()]


def test_a_board_that_keeps_failing_gives_up():
    board = LoadBoard(MEMS, fail=set(range(1000)))
    with pytest.raises(LinkError, match=r"loading failed 3 times; the last: the board "
                                        r"answered LOAD frame 0 with ERROR: bad crc"):
        Session(board, timing=FAST).load(board.link, image(), 1)
    assert board.link.state == p.LOADING  # refusing to run: no COMMIT after the last try


def prepared(shape=SHAPE):
    return Prepared(Path("run/model.json"), 0xFEEDF00D, shape, tuple(image()), 1_000_000,
                    Path("built"))


@pytest.mark.parametrize("board,message", [
    (LoadBoard(MEMS, version=1), r"the board speaks protocol version 1, from before reloadable "
                                 r"weights"),
    (LoadBoard(MEMS, shape=0), r"the board runs a fixed design \(its weights are in its "
                               r"bitstream\)"),
    (LoadBoard(MEMS, shape=0x12345678), r"the board's design has shape 12345678, built's "
                                        r"0a0b0c0d: give --shape-from"),
])
def test_the_wrong_board_is_refused_before_a_byte_of_the_load(board, message):
    with pytest.raises(UserError, match=message):
        load_prepared(board, prepared(), timing=FAST, progress=lambda s: None)
    assert board.sent == [p.T_INFO]


def test_load_prepared_reports_what_it_sent():
    board = LoadBoard(MEMS)
    lines = []
    rep = load_prepared(board, prepared(), timing=FAST, progress=lines.append)
    assert (rep.fingerprint, rep.shape) == (0xFEEDF00D, SHAPE)
    assert rep.bytes == board.bytes_in and rep.frames == board.loads
    assert lines[0].startswith("board: shape 0a0b0c0d, running model 11111111; loading run/")
    check_board(board.link, prepared())
