"""The host end of the UART link: transports and a `Session` that runs sequences on a board.

The link code talks to a transport (`write(bytes)`; `read(timeout)` returns what arrives
within the timeout, b"" if nothing):
`SerialTransport` is the board's USB serial port (pyserial), and sim/board_transport.py drives
the simulated board top's serial lines. `Session` keeps the board's byte FIFO from
overflowing (a frame counts against the FIFO until its reply arrives) and, after an ERROR
reply or a silent board, drains the line and sends again from the first unfinished sequence.
`Session.load` writes a reloadable board's weight memories (LOAD frames, then COMMIT) and
after a link error begins the whole load again (a load is all or nothing on the board).
"""

import time
from collections import deque
from dataclasses import dataclass, field

from ..errors import UserError
from . import protocol as p


class LinkError(Exception):
    """The link misbehaved (an ERROR reply, a malformed frame, silence)."""


class SerialTransport:
    def __init__(self, port: str, baud: int):
        import serial
        try:
            self.ser = serial.Serial(port, baud, timeout=0)
        except (serial.SerialException, OSError, ValueError) as e:
            raise UserError(f"cannot open serial port {port}: {e}") from None
        self.ser.reset_input_buffer()

    def write(self, data: bytes) -> None:
        self.ser.write(data)

    def read(self, timeout: float) -> bytes:
        self.ser.timeout = timeout
        first = self.ser.read(1)
        return first + (self.ser.read(self.ser.in_waiting) if first else b"")

    def close(self) -> None:
        self.ser.close()


@dataclass
class Timing:
    """Host-side patience, in the transport's seconds (simulated seconds in simulation)."""

    reply_s: float = 2.0  # no byte at all for this long while replies are due: resync
    quiet_s: float = 0.1  # the line counts as drained after this long without a byte
    retries: int = 3


@dataclass
class _Sent:
    seq: int
    step: int
    size: int


@dataclass
class RunResult:
    outputs: list  # per sequence: list of (data list, argmax or None, last flag)
    seconds: float = 0.0
    resyncs: int = 0
    errors: list = field(default_factory=list)


@dataclass
class LoadResult:
    frames: int  # LOAD frames of one whole load
    bytes: int  # LOAD and COMMIT bytes the host sent, every attempt's
    seconds: float = 0.0
    attempts: int = 1


@dataclass(frozen=True)
class MemoryImage:
    """The words of one memory a load writes (its id on the board, its word width)."""

    memory: int
    width: int
    words: tuple[int, ...]


def load_frames(link: p.Link, image: list[MemoryImage],
                fingerprint: int) -> tuple[list[bytes], bytes]:
    """(the LOAD frames that write `image`, the COMMIT frame of them and `fingerprint`); a
    frame's payload is at most half the board's FIFO (two in flight keep the line busy; even
    one escaped throughout fits alone)."""
    budget = link.fifo_depth - 2
    max_payload = max(p.LOAD_HEADER + 4, min(124, budget // 2 - 8))
    payloads = [pl for im in image
                for pl in p.load_payloads(im.memory, im.width, list(im.words),
                                          max_payload=max_payload)]
    crc = 0
    for pl in payloads:
        crc = p.crc32(pl, crc)
    return ([p.frame(p.T_LOAD, pl) for pl in payloads],
            p.frame(p.T_COMMIT, p.commit_payload(crc, fingerprint)))


class Session:
    def __init__(self, transport, *, timing: Timing | None = None, progress=None):
        self.t = transport
        self.timing = timing or Timing()
        self.progress = progress
        self.deframer = p.Deframer()
        self.pending = deque()  # frames already decoded, not yet consumed

    # ---- frames
    def _next_frame(self, timeout: float):
        """The next frame, or None when no byte came for `timeout`."""
        while not self.pending:
            data = self.t.read(timeout)
            if not data:
                return None
            self.pending.extend(self.deframer.feed(data))
        return self.pending.popleft()

    def drain(self) -> None:
        """Read until the line is quiet, then start framing afresh."""
        while self.t.read(self.timing.quiet_s):
            pass
        self.pending.clear()
        self.deframer = p.Deframer()

    def info(self) -> p.Link:
        for _ in range(self.timing.retries + 1):
            self.drain()
            self.t.write(p.frame(p.T_INFO))
            fr = self._next_frame(self.timing.reply_s)
            while fr is not None and fr[0] != p.T_INFO:
                fr = self._next_frame(self.timing.reply_s)
            if fr is not None:
                try:
                    return p.Link.from_info_payload(fr[1])
                except ValueError as e:
                    raise LinkError(str(e)) from None
        raise LinkError("the board does not answer INFO requests (is the bitstream loaded, "
                        "the port and baud rate right?)")

    # ---- loading a model
    def load(self, link: p.Link, image: list[MemoryImage], fingerprint: int) -> LoadResult:
        """Write every memory of `image`, commit it with `fingerprint`, and check that the
        board runs it (INFO). Raises LinkError when it cannot, after `timing.retries` more
        whole attempts."""
        budget = link.fifo_depth - 2
        frames, commit = load_frames(link, image, fingerprint)
        t0, sent, attempt = time.monotonic(), 0, 0
        while True:
            attempt += 1
            try:
                sent += self._send_load(frames, budget)
                sent += len(commit)
                self.t.write(commit)
                self._expect_ack("the COMMIT")
                info = self.info()
                if info.state != p.RUNNING or info.fingerprint != fingerprint:
                    raise LinkError(f"after the COMMIT the board is "
                                    f"{p.STATES.get(info.state, info.state)} with model "
                                    f"{info.fingerprint:08x}, not {fingerprint:08x}")
                return LoadResult(len(frames), sent, time.monotonic() - t0, attempt)
            except LinkError as e:
                if attempt > self.timing.retries:
                    raise LinkError(f"loading failed {attempt} times; the last: {e}") from None
                # a COMMIT ends the broken load on the board (refused: it keeps refusing to
                # run), so that the next attempt's CRC starts afresh
                self.drain()
                abort = p.frame(p.T_COMMIT, p.commit_payload(0, 0))
                self.t.write(abort)
                sent += len(abort)
                self.drain()

    def _send_load(self, frames: list[bytes], budget: int) -> int:
        """Send LOAD frames, at most `budget` bytes unanswered; every one must be ACKed."""
        sizes, in_flight, k, sent = deque(), 0, 0, 0
        while k < len(frames) or sizes:
            while k < len(frames) and (not sizes or in_flight + len(frames[k]) + 1 <= budget):
                self.t.write(frames[k])
                sizes.append(len(frames[k]) + 1)  # and an IDLE marker
                in_flight += sizes[-1]
                sent += len(frames[k])
                k += 1
            self._expect_ack(f"LOAD frame {k - len(sizes)}")
            in_flight -= sizes.popleft()
        return sent

    def _expect_ack(self, what: str) -> None:
        fr = self._next_frame(self.timing.reply_s)
        if fr is None:
            raise LinkError(f"no reply to {what} within {self.timing.reply_s} s")
        type_, payload = fr
        if type_ == "bad":
            raise LinkError(f"the reply to {what} was corrupt ({payload})")
        if type_ & 0xF0 == p.T_ERROR:
            raise LinkError(f"the board answered {what} with ERROR: "
                            f"{p.ERRORS.get(type_ & 0x0F, hex(type_))}")
        if type_ != p.T_ACK:
            raise LinkError(f"an unexpected reply of type {type_:#04x} to {what}")

    # ---- sequences
    def run(self, link: p.Link, seqs: list) -> RunResult:
        """Send every sequence (arrays (T, input_size)); returns the board's output beats."""
        t0 = time.monotonic()
        res = RunResult(outputs=[[] for _ in seqs])
        start, attempts = 0, 0
        while start < len(seqs):
            try:
                start = self._run_from(link, seqs, start, res)
            except LinkError as e:
                attempts += 1
                res.errors.append(str(e))
                if attempts > self.timing.retries:
                    raise LinkError(f"giving up after {attempts} link errors; "
                                    f"the last: {e}") from None
                res.resyncs += 1
                self.drain()
                start = next((i for i, o in enumerate(res.outputs)
                              if not _complete(o, seqs[i], link.emit)), len(seqs))
                for i in range(start, len(seqs)):
                    res.outputs[i] = []
        res.seconds = time.monotonic() - t0
        return res

    def _run_from(self, link: p.Link, seqs, start: int, res: RunResult) -> int:
        budget = link.fifo_depth - 2
        want_out, want_ack = deque(), deque()
        in_flight = 0
        steps = [(i, t) for i in range(start, len(seqs)) for t in range(len(seqs[i]))]
        k, done_seq, last_report = 0, start, time.monotonic()
        while k < len(steps) or want_out or want_ack:
            while k < len(steps):
                i, t = steps[k]
                T = len(seqs[i])
                frame = link.encode_step(seqs[i][t], first=t == 0, last=t == T - 1)
                size = len(frame) + 1  # and one FIFO entry for an IDLE marker
                if in_flight + size > budget and (want_out or want_ack):
                    break
                self.t.write(frame)
                in_flight += size
                emits = link.emit != "last" or t == T - 1
                (want_out if emits else want_ack).append(_Sent(i, t, size))
                k += 1
            fr = self._next_frame(self.timing.reply_s)
            if fr is None:
                raise LinkError(f"no reply from the board within {self.timing.reply_s} s "
                                f"({len(want_out) + len(want_ack)} frames unanswered)")
            type_, payload = fr
            if type_ == "bad":
                raise LinkError(f"a reply frame from the board was corrupt ({payload})")
            if type_ & 0xF0 == p.T_ERROR:
                raise LinkError(f"the board answered ERROR: "
                                f"{p.ERRORS.get(type_ & 0x0F, hex(type_))}")
            if type_ == p.T_ACK and want_ack:
                in_flight -= want_ack.popleft().size
            elif type_ & ~1 == p.T_OUT and want_out:
                s = want_out.popleft()
                in_flight -= s.size
                try:
                    data, argmax = link.decode_out(payload)
                except ValueError as e:
                    raise LinkError(str(e)) from None
                res.outputs[s.seq].append((data, argmax, type_ & 1))
            else:
                raise LinkError(f"an unexpected reply of type {type_:#04x}")
            while done_seq < len(seqs) and _complete(res.outputs[done_seq], seqs[done_seq],
                                                     link.emit):
                done_seq += 1
            if self.progress and time.monotonic() - last_report > 1.0:
                self.progress(done_seq, len(seqs))
                last_report = time.monotonic()
        return len(seqs)


def _complete(outs, seq, emit: str) -> bool:
    return len(outs) == (1 if emit == "last" else len(seq))
