"""The host side (hw/board/session.py, host.py) against a Python stand-in for the board: flow
control, resynchronisation after errors and silence, mismatch reports, the CLI's errors."""

import dataclasses

import numpy as np
import pytest

from hw import metrics
from hw.__main__ import main as hw_main
from hw.board import protocol as p
from hw.board.host import check_link, compare, run_testset
from hw.board.session import LinkError, Session, Timing
from hw.errors import UserError
from hw.modelfile import save
from hw.random_model import random_inputs, random_model
from hw.reference import Reference, default_emit


class FakeBoard:
    """Speaks the board's protocol with the reference model. It consumes at most `per_read`
    frames per host read, and answers ERROR (line) when the host overfills its FIFO.
    `fail`: {STEP index: "error" | "silent"} drops that step frame once, with or without an
    ERROR reply; `wrong`: {output beat index: element} adds 1 to that element."""

    def __init__(self, model, *, fifo_depth=64, per_read=2, fail=None, wrong=None, fp=None):
        self.model, self.ref, self.emit = model, Reference(model), default_emit(model)
        out_bits = model.fmt("state" if self.emit == "hidden" else "output").bits
        n_out = model.hidden_size if self.emit == "hidden" else model.head.weight.shape[0]
        self.link = p.Link(model.input_size, p.nbytes(model.formats.input.bits), n_out,
                           p.nbytes(out_bits), 0 if self.emit == "hidden" else 1, self.emit,
                           p.fingerprint(model) if fp is None else fp, fifo_depth, 12_000_000)
        self.per_read, self.fail, self.wrong = per_read, dict(fail or {}), dict(wrong or {})
        self.deframer, self.buffered, self.replies = p.Deframer(), [], bytearray()
        self.steps = self.beats = self.max_fill = 0
        self.state = None

    def fill(self):
        return sum(len(f) for f in self.buffered)

    def write(self, data: bytes):
        for fr in self.deframer.feed(data):
            self.buffered.append(p.frame(fr[0], fr[1]) if fr[0] != "bad" else b"x")
        self.max_fill = max(self.max_fill, self.fill())
        if self.fill() > self.link.fifo_depth:
            self.buffered.clear()
            self.replies += p.frame(p.T_ERROR | p.E_LINE)

    def read(self, timeout):
        for _ in range(self.per_read):
            if self.buffered:
                self._process(self.buffered.pop(0))
        out, self.replies = bytes(self.replies), bytearray()
        return out

    def _process(self, raw):
        (type_, payload), = p.Deframer().feed(raw)
        if type_ == p.T_INFO:
            self.replies += p.frame(p.T_INFO, self.link.info_payload())
            return
        k, self.steps = self.steps, self.steps + 1
        action = self.fail.pop(k, None)
        if action is not None:
            if action == "error":
                self.replies += p.frame(p.T_ERROR | p.E_CRC)
            return
        b = self.link.in_bytes
        x = np.array([int.from_bytes(payload[j * b:(j + 1) * b], "little", signed=True)
                      for j in range(self.link.input_size)])
        first, last = type_ & 1, type_ >> 1 & 1
        if first or self.state is None:
            self.state = self.ref.initial_state()
        self.state, h = self.ref.step(self.state, x)
        if self.emit == "last" and not last:
            self.replies += p.frame(p.T_ACK)
            return
        data = h if self.emit == "hidden" else self.ref.head(h)
        data = [int(v) for v in data]
        if self.beats in self.wrong:
            data[self.wrong[self.beats]] += 1
        self.beats += 1
        am = b"" if self.emit == "hidden" else bytes((int(np.argmax(data)),))
        body = b"".join(v.to_bytes(self.link.out_bytes, "little", signed=True) for v in data)
        self.replies += p.frame(p.T_OUT | last, body + am)


def make_testset(model, n=6, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 6, n)
    x = random_inputs(rng, model, (n, int(lengths.max())))
    return metrics.TestSet(x, lengths, rng.integers(0, classes, n))


FAST = Timing(reply_s=0.01, quiet_s=0.001, retries=3)


@pytest.mark.parametrize("emit", ["last", "every", "hidden"])
def test_all_beats_match_and_fifo_never_overfills(emit):
    model = random_model(cell="gru", hidden_size=5, input_size=3,
                         outputs=None if emit == "hidden" else 4, seed=2)
    model.emit = emit if emit != "hidden" else "last"
    board = FakeBoard(model, fifo_depth=40)
    ts = make_testset(model)
    rep = run_testset(board, model, ts, timing=FAST, progress=lambda s: None)
    assert rep.ok, rep.mismatches
    assert rep.resyncs == 0 and board.max_fill <= 40
    n_beats = len(ts) if emit == "last" else int(ts.lengths.sum())
    assert rep.beats == n_beats and board.beats == n_beats
    if emit == "last":
        pred = Reference(model).predict
        expect = [int(pred(ts.sequence(i))) for i in range(len(ts))]
        assert rep.metric == f"accuracy {metrics.accuracy(expect, ts.y):.4f}"


@pytest.mark.parametrize("action", ["error", "silent"])
def test_resync_after_error_or_silence(action):
    model = random_model(cell="lstm", hidden_size=4, input_size=2, outputs=3, seed=4)
    board = FakeBoard(model, fail={7: action})
    rep = run_testset(board, model, make_testset(model, n=8), timing=FAST, progress=lambda s: None)
    assert rep.ok, rep.mismatches
    assert rep.resyncs == 1


def test_wrong_beats_are_reported_with_position():
    model = random_model(cell="rnn", hidden_size=4, input_size=2, outputs=3, seed=1)
    model.emit = "every"
    ts = make_testset(model, n=3)
    board = FakeBoard(model, wrong={2: 1})
    rep = run_testset(board, model, ts, timing=FAST, progress=lambda s: None)
    assert len(rep.mismatches) >= 1 and not rep.ok
    seq = 0 if ts.lengths[0] > 2 else (1 if ts.lengths[0] + ts.lengths[1] > 2 else 2)
    step = 2 - sum(int(v) for v in ts.lengths[:seq])
    assert rep.mismatches[0].startswith(f"sequence {seq}, step {step}, unit data[1]: expected ")


def test_compare_counts_missing_beats():
    model = random_model(cell="gru", hidden_size=3, input_size=2, outputs=2, seed=3)
    xs = np.zeros((2, 2), dtype=np.int64)
    beats, bad = compare(model, [xs], [[]], "last")
    assert beats == 0 and bad == ["sequence 0: expected 1 output beats, got 0"]


def test_other_model_on_board_is_refused():
    model = random_model(cell="gru", hidden_size=3, input_size=2, outputs=2, seed=3)
    board = FakeBoard(model, fp=0x12345678)
    with pytest.raises(UserError, match=r"the board runs another model \(fingerprint "
                                         r"12345678, this model.json [0-9a-f]{8}\)"):
        run_testset(board, model, make_testset(model), timing=FAST, progress=lambda s: None)
    link = FakeBoard(model).link  # emits "last"
    model.emit = "every"
    link = dataclasses.replace(link, fingerprint=p.fingerprint(model))
    with pytest.raises(UserError, match=r"the board takes 2 inputs of 1 bytes and emits "
                                         r"'last'; the model needs 2 of 1 and 'every'"):
        check_link(link, model)


def test_silent_board_gives_up_with_one_line():
    model = random_model(cell="gru", hidden_size=3, input_size=2, outputs=2, seed=3)

    class Dead:
        def write(self, data):
            pass

        def read(self, timeout):
            return b""

    with pytest.raises(LinkError, match="the board does not answer INFO requests"):
        Session(Dead(), timing=FAST).info()
    with pytest.raises(UserError, match="link failure: the board does not answer INFO"):
        run_testset(Dead(), model, make_testset(model), timing=FAST, progress=lambda s: None)


def test_cli_errors(tmp_path, capsys):
    model = random_model(cell="gru", hidden_size=3, input_size=2, outputs=2, seed=3)
    assert hw_main(["host", "--port", "/dev/null-none", str(tmp_path)]) == 2
    assert "model.json" in capsys.readouterr().err
    save(model, tmp_path / "model.json")
    assert hw_main(["host", "--port", "/dev/null-none", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: test set ") and "testset.npz" in err and err.count("\n") == 1
    metrics.save_testset(make_testset(model), tmp_path / "testset.npz")
    assert hw_main(["host", "--port", str(tmp_path / "no-such-tty"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open serial port ") and err.count("\n") == 1
    bad = make_testset(model)
    bad.x[0, 0, 0] = 1000
    metrics.save_testset(bad, tmp_path / "bad.npz")

    class Any:
        def write(self, data):
            pass

        def read(self, timeout):
            return b""

    with pytest.raises(UserError, match=r"x\[0\]\[0\]\[0\] is 1000, outside the input "
                                         r"format Q8.6"):
        run_testset(Any(), model, bad, timing=FAST, progress=lambda s: None)
