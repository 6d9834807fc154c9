"""`python -m sim.board_load RUN --shape-from BUILT [--data testset.npz] [--limit N]`: RUN's
model loaded into the board of BUILT's reloadable design, all in simulation, and its test set
run there, bit for bit against the reference model.

The board top (the UART link and the loader around BUILT's ModelTop, as `make bitstream`
builds it) runs in Icarus under cocotb; `python -m hw load`'s own code sends RUN's model.json
over the simulated serial line (hw.board.load: the shape checked first), then `python -m hw
host`'s sends the test set (the first N sequences). This is what a trial of the explorer runs
instead of `make sim` when it reuses another trial's reloadable bitstream (docs/explore.md).
RUN/board_sim.json gets the record: the load (frames, bytes, simulated seconds), the
sequences, mismatches 0 (or the command fails) and the task metric from the board's outputs.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from hw import metrics
from hw.cli import Parser, run
from hw.errors import UserError
from hw.fileio import atomic_write_text
from hw.modelfile import load


@dataclass(frozen=True)
class BoardLoadOptions:
    data: str | None = None  # the test set (default RUN/testset.npz)
    limit: int | None = None  # the first N sequences


def board_load(run_dir, built, options: BoardLoadOptions | None = None) -> dict:
    """Simulate BUILT's board with RUN's model loaded and RUN's test set run; the record
    (also written to RUN/board_sim.json). UserError for bad input, a model that does not fit,
    or a mismatching beat."""
    from hw.board.load import prepare

    from .board_runner import simulate_board_loads

    opts = options or BoardLoadOptions()
    run_dir, built = Path(run_dir), Path(built)
    if opts.limit is not None and opts.limit < 1:
        raise UserError(f"--limit must be a positive number of sequences, not {opts.limit}")
    model = load(run_dir / "model.json")
    ts_path = Path(opts.data) if opts.data else run_dir / "testset.npz"
    ts = metrics.load_testset(ts_path)
    metrics.check_testset(ts, model, ts_path)
    if opts.limit is not None and opts.limit < len(ts):
        ts = metrics.TestSet(ts.x[:opts.limit], ts.lengths[:opts.limit], ts.y[:opts.limit])
    prep = prepare(run_dir, built)  # the shape, before anything is simulated
    try:
        rep = simulate_board_loads(built, [built, run_dir], ts, run_dir / "board_sim",
                                   run_first=False, broken=False)
    except (Exception, SystemExit) as e:  # noqa: BLE001 - the cocotb run failed
        why = str(e).splitlines()[0] if str(e) else repr(e)
        raise UserError(f"the board-level simulation of {run_dir} in {built}'s design failed "
                        f"(see {run_dir / 'board_sim'}): {why}") from None
    (phase,), (ld,) = rep["phases"], rep["loads"]
    rec = {"built": str(built), "shape": f"{prep.shape:08x}", "sequences": phase["sequences"],
           "steps": phase["steps"], "mismatches": phase["mismatch_count"],
           "metric": model.metric_name if phase["metric_value"] is not None else None,
           "rtl_metric": phase["metric_value"], "load_frames": ld["frames"],
           "load_bytes": ld["bytes"], "load_sim_seconds": ld["sim_seconds"],
           "testset": str(ts_path), "limit": opts.limit}
    atomic_write_text(run_dir / "board_sim.json", json.dumps(rec, indent=1) + "\n")
    return rec


def parser() -> Parser:
    p = Parser(prog="python -m sim.board_load", description=__doc__.splitlines()[0])
    p.add_argument("run", help="run folder with the model.json to load and its testset.npz")
    p.add_argument("--shape-from", required=True, metavar="BUILT",
                   help="the run folder of the reloadable design (make verilog RELOADABLE=1)")
    p.add_argument("--data", default=None, help="test set (default RUN/testset.npz)")
    p.add_argument("--limit", type=int, default=None, help="only the first N sequences")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)

    def body() -> int:
        rec = board_load(args.run, args.shape_from, BoardLoadOptions(args.data, args.limit))
        print(f"{args.run} loaded into {args.shape_from}'s board (shape {rec['shape']}): "
              f"{rec['load_bytes']} bytes in {rec['load_sim_seconds'] * 1e3:.1f} ms simulated; "
              f"{rec['sequences']} sequences, {rec['mismatches']} mismatches"
              + (f", {rec['metric']} {rec['rtl_metric']:.4f}" if rec["metric"] else ""))
        return 0

    return run(body)


if __name__ == "__main__":
    sys.exit(main())
