"""`python -m hw load RUN --port P [--shape-from BUILT_RUN]`: write RUN's model into the weight
memories of a board running a reloadable design, over its UART (docs/boards.md, "Reloading a
model"); `shiftrnn.load(run, port)` from Python.

The chain of trust (docs/hardware.md, "The design hash"): BUILT_RUN (default RUN) is the run
folder the board's bitstream was built from. Its manifest is checked first (hw.gen.design:
model.json, top.v and manifest.json written together) and must describe a reloadable design
(`make verilog RELOADABLE=1`); its bitstream.json, when there is one, must be of that design.
RUN's model.json is then fitted into that design's shape (hw.gen.reload): a model of another
structure, or one that needs a finer fraction or a longer shift, is refused in one line. The
board's INFO must report that shape's fingerprint, else nothing is sent. Then the LOAD frames,
the COMMIT, and INFO again: the board runs RUN's model.

`prepare` reads and checks the files, `load_prepared` talks to any transport (the board's
serial port, or the simulated board's lines in sim/board_tb.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..modelfile import load
from . import protocol as p
from .session import LinkError, MemoryImage, SerialTransport, Session, Timing


@dataclass(frozen=True)
class Prepared:
    """What a load sends: the model, its words per memory, the shape they fit."""

    model_path: Path
    fingerprint: int  # the model's (hw.board.protocol.fingerprint)
    shape: int  # the design's shape fingerprint (the board must report it)
    image: tuple[MemoryImage, ...]
    baud: int  # the built design's (its bitstream.json), else the default
    built: Path  # BUILT_RUN

    @property
    def words(self) -> int:
        return sum(len(im.words) for im in self.image)


@dataclass(frozen=True)
class LoadReport:
    frames: int
    bytes: int
    seconds: float
    attempts: int
    fingerprint: int
    shape: int


def prepare(run, shape_from=None) -> Prepared:
    """Check BUILT_RUN's design and fit RUN's model into its shape; UserError when either
    cannot be used."""
    from ..gen.design import check_run
    from ..gen.reload import load_image

    run = Path(run)
    built = Path(shape_from) if shape_from is not None else run
    man = check_run(built)
    if man.reload is None:
        raise UserError(f"{built}'s design is fixed (its weights are in its bitstream): "
                        f"regenerate it with make verilog RUN={built} RELOADABLE=1 and build "
                        f"its bitstream to load models into it")
    baud = 1_000_000
    bj = built / "bitstream.json"
    if bj.is_file():
        try:
            rec = json.loads(bj.read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"{bj} is not readable JSON: {e}") from None
        if rec.get("design_hash") != man.design_hash:
            raise UserError(f"{bj} is of another design than {built}/manifest.json "
                            f"(make verilog ran since the build): build it again with make "
                            f"bitstream RUN={built}")
        baud = int(rec.get("baud", baud))
    path = run / "model.json"
    model = load(path)
    image, shape = load_image(model, man)
    return Prepared(path, p.fingerprint(model), shape,
                    tuple(MemoryImage(k, w, tuple(words)) for k, (_, w, words)
                          in enumerate(image)), baud, built)


def check_board(link: p.Link, prep: Prepared) -> None:
    """The board must be reloadable and of the prepared shape, or no byte of the load goes."""
    if link.version < 2:
        raise UserError(f"the board speaks protocol version {link.version}, from before "
                        f"reloadable weights: build {prep.built} with make bitstream (a "
                        f"reloadable design) and program the board with it")
    if not link.reloadable:
        raise UserError(f"the board runs a fixed design (its weights are in its bitstream): "
                        f"program it with the reloadable bitstream of {prep.built}")
    if link.shape != prep.shape:
        raise UserError(f"the board's design has shape {link.shape:08x}, {prep.built}'s "
                        f"{prep.shape:08x}: give --shape-from the run folder the board's "
                        f"bitstream was built from")


def load_prepared(transport, prep: Prepared, *, timing: Timing | None = None,
                  progress=print) -> LoadReport:
    session = Session(transport, timing=timing)
    try:
        link = session.info()
        check_board(link, prep)
        progress(f"board: shape {link.shape:08x}, "
                 f"{p.STATES.get(link.state, link.state)} model {link.fingerprint:08x}; "
                 f"loading {prep.model_path} ({prep.fingerprint:08x}): {prep.words} words in "
                 f"{len(prep.image)} memories")
        res = session.load(link, list(prep.image), prep.fingerprint)
    except LinkError as e:
        raise UserError(f"link failure: {e}") from None
    return LoadReport(res.frames, res.bytes, res.seconds, res.attempts, prep.fingerprint,
                      prep.shape)


def load_run(run, port: str, *, shape_from=None, baud: int | None = None,
             timeout: float = 2.0, progress=print) -> LoadReport:
    """`python -m hw load` as a function (`shiftrnn.load`)."""
    if not timeout > 0:
        raise UserError(f"timeout must be a positive number of seconds, not {timeout!r}")
    prep = prepare(run, shape_from)
    transport = SerialTransport(port, prep.baud if baud is None else baud)
    try:
        return load_prepared(transport, prep, timing=Timing(reply_s=timeout),
                             progress=progress)
    finally:
        transport.close()


# ---------------------------------------------------------------- CLI

def add_arguments(parser) -> None:
    parser.add_argument("run", help="run folder with the model.json to load")
    parser.add_argument("--port", default=None,
                        help="the board's serial port, e.g. /dev/ttyUSB1 (not with --check)")
    parser.add_argument("--check", action="store_true",
                        help="only check that the model fits BUILT_RUN's shape and print what "
                             "a load would send; no board")
    parser.add_argument("--shape-from", default=None, metavar="BUILT_RUN",
                        help="the run folder the board's reloadable bitstream was built from "
                             "(default RUN)")
    parser.add_argument("--baud", type=int, default=None,
                        help="UART rate (default: BUILT_RUN/bitstream.json's, else 1000000)")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="seconds without a reply before trying again (default 2)")


def main(args) -> int:
    if args.check:
        prep = prepare(args.run, args.shape_from)
        print(f"{prep.model_path} (model {prep.fingerprint:08x}) fits {prep.built}'s shape "
              f"{prep.shape:08x}: {prep.words} words in {len(prep.image)} memories")
        return 0
    if args.port is None:
        raise UserError("--port is needed to load a board (or --check to check the fit only)")
    t0 = time.monotonic()
    rep = load_run(args.run, args.port, shape_from=args.shape_from, baud=args.baud,
                   timeout=args.timeout)
    print(f"loaded {args.run}/model.json (model {rep.fingerprint:08x}, shape {rep.shape:08x}): "
          f"{rep.frames} LOAD frames, {rep.bytes} bytes in {rep.seconds:.2f} s"
          f"{f' ({rep.attempts} attempts)' if rep.attempts > 1 else ''}; the board runs it "
          f"({time.monotonic() - t0:.1f} s in all)")
    return 0
