"""`python -m hw host --port /dev/ttyUSB1 RUN [--data testset.npz]`: run a test set on a board
and compare every output beat with the reference model, bit for bit.

`run_testset` is the whole job over any transport; the CLI gives it the board's serial port
and the cocotb test (sim/test_board_top.py) gives it the simulated board's serial lines.
Exit status: 0 when every beat matches, 1 when any differs, 2 for bad input.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import metrics
from ..beats import describe, differences, expected
from ..errors import UserError
from ..modelfile import load
from ..reference import Reference, default_emit
from . import protocol as p
from .session import LinkError, SerialTransport, Session, Timing

MAX_SHOWN = 10  # mismatches printed in full


@dataclass
class Report:
    sequences: int
    steps: int
    beats: int
    mismatches: list = field(default_factory=list)  # one line each
    seconds: float = 0.0
    resyncs: int = 0
    metric: str = ""  # "accuracy 0.9123" or "bits/symbol 1.234", from the board's integers
    metric_value: float | None = None  # the same figure as a number

    @property
    def ok(self) -> bool:
        return not self.mismatches


def check_link(link: p.Link, model) -> None:
    """The board must run this model with this interface, or nothing compares."""
    fp = p.fingerprint(model)
    if link.state != p.RUNNING:
        raise UserError(f"the board runs no model: it is {p.STATES[link.state]}; load one "
                        f"with python -m hw load")
    if link.fingerprint != fp:
        how = ("load it with python -m hw load RUN --port ... (a reloadable board)"
               if link.reloadable else "build and load this run's bitstream")
        raise UserError(f"the board runs another model (fingerprint {link.fingerprint:08x}, "
                        f"this model.json {fp:08x}); {how}")
    emit = default_emit(model)
    bits, n = model.beat_element[0], model.beat_inputs
    if (link.input_size, link.in_bytes, link.emit) != (n, p.nbytes(bits), emit):
        raise UserError(f"the board takes {link.input_size} inputs of {link.in_bytes} bytes and "
                        f"emits {link.emit!r}; the model needs {n} of "
                        f"{p.nbytes(bits)} and {emit!r}")


def compare(model, seqs, outputs, emit: str) -> tuple[int, list[str]]:
    """(beats compared, mismatch lines naming sequence, step, unit, expected, got)."""
    if len(outputs) != len(seqs):
        raise ValueError(f"{len(outputs)} outputs for {len(seqs)} sequences")
    bad, beats = [], 0
    exps = expected(Reference(model), seqs, emit)
    for i, (exp, got) in enumerate(zip(exps, outputs, strict=True)):
        if len(got) != len(exp.data):
            bad.append(f"sequence {i}: expected {len(exp.data)} output beats, got {len(got)}")
            continue
        for b, (g_data, g_argmax, g_last) in enumerate(got):
            beats += 1
            bad += [describe(i, int(exp.steps[b]), *d)
                    for d in differences(exp, b, g_data, g_argmax, g_last)]
    return beats, bad


METRIC_LABELS = {"accuracy": "accuracy", "bpc": "bits/symbol"}


def task_metric(model, ts, outputs, emit: str, n: int) -> tuple[str, float | None]:
    """The task's figure (hw.metrics.task_metric) from the board's own integers: (a label
    with the value, the value); ("", None) for a model without a head."""
    if emit == "hidden":
        return "", None
    item = [i for i, o in enumerate(outputs) for _ in o]
    data = [b[0] for o in outputs for b in o]
    argmax = [b[1] for o in outputs for b in o]
    logits, am = metrics.outputs_from_beats(ts.x.shape[1], n, item, data, argmax, emit)
    name = model.metric_name
    value = metrics.task_metric(name, logits, ts.y[:n], model.formats.output,
                                lengths=ts.lengths[:n], argmax=am)
    return f"{METRIC_LABELS[name]} {value:.4f}", float(value)


def run_testset(transport, model, ts, *, limit: int | None = None, timing: Timing | None = None,
                progress=print) -> Report:
    n = len(ts) if limit is None else min(limit, len(ts))
    seqs = [ts.sequence(i) for i in range(n)]
    metrics.check_testset(metrics.TestSet(ts.x[:n], ts.lengths[:n], ts.y[:n]), model,
                          "sent to the board")

    def show(done, total):
        progress(f"  {done}/{total} sequences")

    session = Session(transport, timing=timing, progress=show)
    try:
        link = session.info()
        check_link(link, model)
        progress(f"board: {link.emit} outputs, {link.out_n} values of {link.out_bytes} bytes, "
                 f"clock {link.clock_hz / 1e6:g} MHz, fifo {link.fifo_depth} bytes; "
                 f"running {n} sequences")
        res = session.run(link, seqs)
    except LinkError as e:
        raise UserError(f"link failure: {e}") from None
    beats, bad = compare(model, seqs, res.outputs, link.emit)
    label, value = ("", None) if bad else task_metric(model, ts, res.outputs, link.emit, n)
    return Report(sequences=n, steps=sum(len(s) for s in seqs), beats=beats, mismatches=bad,
                  seconds=res.seconds, resyncs=res.resyncs, metric=label, metric_value=value)


# ---------------------------------------------------------------- CLI

def add_arguments(parser) -> None:
    parser.add_argument("run", help="run folder with model.json (and testset.npz)")
    parser.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB1")
    parser.add_argument("--data", default=None, help="test set (default RUN/testset.npz)")
    parser.add_argument("--baud", type=int, default=None,
                        help="UART rate (default: RUN/bitstream.json's, else 1000000)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N sequences")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="seconds without a reply before resynchronising (default 2)")


def main(args) -> int:
    run = Path(args.run)
    model = load(run / "model.json")
    ts = metrics.load_testset(args.data if args.data else run / "testset.npz")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, not {args.limit}")
    if not args.timeout > 0:
        raise UserError(f"--timeout must be positive, not {args.timeout}")
    baud = args.baud
    if baud is None:
        baud = 1_000_000
        bj = run / "bitstream.json"
        if bj.is_file():
            try:
                baud = int(json.loads(bj.read_text()).get("baud", baud))
            except (OSError, ValueError):
                pass
    transport = SerialTransport(args.port, baud)
    try:
        t0 = time.monotonic()
        rep = run_testset(transport, model, ts, limit=args.limit,
                          timing=Timing(reply_s=args.timeout))
    finally:
        transport.close()
    for line in rep.mismatches[:MAX_SHOWN]:
        print(f"MISMATCH {line}")
    if len(rep.mismatches) > MAX_SHOWN:
        print(f"... and {len(rep.mismatches) - MAX_SHOWN} more mismatches")
    verdict = "all match the reference model" if rep.ok else \
        f"{len(rep.mismatches)} MISMATCHES against the reference model"
    print(f"{rep.sequences} sequences, {rep.steps} steps, {rep.beats} output beats in "
          f"{time.monotonic() - t0:.1f} s ({rep.steps / max(rep.seconds, 1e-9):.0f} steps/s, "
          f"{rep.resyncs} resyncs): {verdict}" + (f"; {rep.metric}" if rep.metric else ""))
    return 0 if rep.ok else 1
