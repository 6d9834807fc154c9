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


# ---------------------------------------------------------------- hw load's files and CLI

def generated(folder, seed=7, hidden=4, reloadable=True):
    """A run folder with a random model.json (and with `reloadable` not None, make verilog's
    files: reloadable or fixed)."""
    from hw.gen.cli import generate_run
    from hw.gen.options import GenerateOptions
    from hw.modelfile import save
    from hw.random_model import random_model

    m = random_model(cell="gru", scheme="ternary", outputs=3, input_size=3, hidden_size=hidden,
                     seed=seed)
    for _, mat in m.matrices():  # the same scales whatever the seed: within the shape
        mat.scale[:] = -2
    folder.mkdir(parents=True, exist_ok=True)
    save(m, folder / "model.json")
    if reloadable is not None:
        generate_run(folder / "model.json",
                     GenerateOptions(parallel=3, simd=2, reloadable=reloadable), folder,
                     say=lambda s: None)
    return m


def test_prepare_fits_a_model_into_the_built_shape(tmp_path):
    from hw.board.load import prepare

    generated(tmp_path / "a")
    generated(tmp_path / "b", seed=9, reloadable=None)
    prep = prepare(tmp_path / "b", tmp_path / "a")
    assert prep.shape == int(__import__("json").loads(
        (tmp_path / "a" / "manifest.json").read_text())["reload"]["fingerprint"], 16)
    assert [im.memory for im in prep.image] == [0, 1] and prep.words == 23


@pytest.mark.parametrize("what,message", [
    ("hidden", r"^the model does not fit the design's shape: the model's hidden_size is 5, "
               r"the shape's 4$"),
    ("fixed", r"^.*'s design is fixed \(its weights are in its bitstream\): regenerate it with "
              r"make verilog RUN=.* RELOADABLE=1"),
    ("truncated", r"is not valid JSON"),
    ("bitstream", r"bitstream.json is of another design than"),
])
def test_prepare_refuses_in_one_line(tmp_path, what, message):
    from hw.board.load import prepare

    generated(tmp_path / "a", reloadable=what != "fixed")
    generated(tmp_path / "b", seed=9, hidden=5 if what == "hidden" else 4, reloadable=None)
    if what == "truncated":
        text = (tmp_path / "b" / "model.json").read_text()
        (tmp_path / "b" / "model.json").write_text(text[:len(text) // 2])
    if what == "bitstream":
        (tmp_path / "a" / "bitstream.json").write_text('{"design_hash": "0" , "baud": 1}')
    with pytest.raises(UserError, match=message):
        prepare(tmp_path / "b", tmp_path / "a")


def test_cli_errors_are_one_line(tmp_path, capsys):
    from hw.__main__ import main as hw_main

    generated(tmp_path / "a")
    assert hw_main(["load", str(tmp_path / "a"), "--port", str(tmp_path / "no-tty")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open serial port ") and err.count("\n") == 1
    assert hw_main(["load", str(tmp_path / "none"), "--port", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "model.json does not exist" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("kw,message", [
    (dict(parallel="unrolled"), r"--reloadable is for the time-multiplexed engine"),
    (dict(parallel=3, storage="registers"), r"--reloadable writes the weights into memories"),
    (dict(parallel=3, ports="axis"), r"--reloadable takes the native ports"),
])
def test_reloadable_option_refusals(kw, message):
    from hw.gen.options import GenerateOptions

    with pytest.raises(UserError, match=message):
        GenerateOptions(reloadable=True, **kw).check()
    assert "reloadable" not in GenerateOptions(parallel=3).check().as_dict()
