"""`python -m explore SPACE.toml --out DIR`: sweep a design space on Dask, report its fronts.

Every point of the space is a trial: the project's own stages (train, verilog, sim,
bitstream) in DIR/trials/HASH/, run on a Dask worker. Finished trials are appended to
DIR/trials.jsonl as they come (a rerun skips them: resume after a kill or a lost worker) and
DIR/report.md plots the Pareto fronts. Bad input (the space file, the scheduler address) prints
one line and exits 2; a failed trial is recorded with its error and the sweep goes on.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

from hw.cli import Parser, run
from hw.errors import UserError
from hw.fileio import writable_folder

from . import space as spaces
from .results import Trials


def parser() -> Parser:
    p = Parser(prog="python -m explore", description=__doc__.splitlines()[0])
    p.add_argument("space", help="the space file (TOML; docs/explore.md)")
    p.add_argument("--out", required=True, help="output folder (trials.jsonl, report.md, "
                   "trials/HASH/ run folders)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="an existing Dask scheduler (default: a LocalCluster on this machine)")
    p.add_argument("--workers", type=int, default=None,
                   help="LocalCluster workers (default: this machine's cores)")
    p.add_argument("--threads-per-worker", type=int, default=1,
                   help="LocalCluster: trials each worker runs at once (default 1)")
    p.add_argument("--bitstreams-per-worker", type=int, default=1,
                   help="LocalCluster: bitstream trials each worker runs at once (default 1)")
    p.add_argument("--retry-failed", action="store_true",
                   help="run the trials recorded as failed again (default: keep them)")
    p.add_argument("--list", action="store_true",
                   help="print the trials (hash, configuration, done or not) and stop")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return run(lambda: sweep(args),
               interrupted=lambda: f"interrupted: finished trials are in {args.out}/trials.jsonl;"
                                   f" rerun the same command to go on")


def sweep(args) -> int:
    for name in ("workers", "threads_per_worker", "bitstreams_per_worker"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise UserError(f"--{name.replace('_', '-')} must be a positive integer, not {v}")
    sp = spaces.load(args.space)
    out = Path(args.out).resolve()  # workers may run in another folder
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    if not args.list:
        writable_folder(out, "--out folder")
    settings = asdict(sp.stages)
    points = [(spaces.trial_hash(p, sp.stages), p) for p in sp.points()]
    trials = Trials(out)
    done = trials.done(args.retry_failed)
    todo = [(h, p) for h, p in points if h not in done]
    if args.list:
        for h, p in points:
            print(f"{h} {'done' if h in done else 'todo'} {p}")
        return 0
    print(f"{sp.path}: {len(points)} trials, {len(points) - len(todo)} finished before, "
          f"{len(todo)} to run; stages {', '.join(sp.stages.run)}", flush=True)
    t0 = time.monotonic()
    if todo:
        run_all(args, out, trials, todo, settings, "bitstream" in sp.stages.run,
                reuse(points, out) if sp.stages.reload else {})
    wall = time.monotonic() - t0
    keys = {h for h, _ in points}
    from . import report

    recs = [r for r in trials.latest() if r["hash"] in keys]
    path = report.write(out, recs, f"{sp.path.name} ({len(points)} trials)",
                        wall if todo else None)
    bad = sum(r.get("status") != "ok" for r in recs)
    print(f"{len(recs) - bad} trials finished, {bad} failed in {wall:.0f} s; wrote {path}")
    return 0


def reuse(points, out: Path) -> dict[str, str]:
    """stages.reload: trial hash -> the trial whose reloadable design it reuses (the first of
    its shape, spaces.shape_key, in the space's order); the first ones are absent."""
    first, out_map = {}, {}
    for h, p in points:
        key = spaces.shape_key(p)
        if key is None:
            continue
        if key in first:
            out_map[h] = first[key]
        else:
            first[key] = h
    return out_map


def run_all(args, out: Path, trials: Trials, todo, settings: dict, bitstream: bool,
            reused: dict[str, str]) -> None:
    from dask.distributed import as_completed
    from tqdm import tqdm

    from . import cluster
    from .trial import run_trial

    if args.scheduler:
        client, what = cluster.remote_client(args.scheduler)
    else:
        client, what = cluster.local_client(args.workers, args.threads_per_worker,
                                            args.bitstreams_per_worker)
    try:
        cluster.check_resources(client, bitstream, args.scheduler or "the LocalCluster")
        print(f"running on {what}", flush=True)
        resources = {cluster.RESOURCE: 1} if bitstream else None
        futures, submitted = {}, {}
        # the trials that build a reloadable design first; the ones that reuse it wait for
        # it (a Dask dependency: its future is an argument)
        for h, p in sorted(todo, key=lambda hp: hp[0] in reused):
            st = settings
            after = None
            if h in reused:
                st = dict(settings, shape_from=str(out / "trials" / reused[h]))
                after = submitted.get(reused[h])
            fut = client.submit(run_trial, p, st, str(out / "trials" / h), h, after,
                                key=f"trial-{h}", pure=False, resources=resources)
            futures[fut], submitted[h] = (h, p), fut
        failed = 0
        with tqdm(total=len(futures), desc="trials", unit="trial") as bar:
            for fut in as_completed(futures):
                h, p = futures[fut]
                try:
                    rec = fut.result()
                except Exception as e:  # noqa: BLE001 - a lost worker, a task that raised
                    rec = lost(h, p, settings, out, e)
                trials.append(rec)
                failed += rec["status"] != "ok"
                bar.set_postfix(failed=failed)
                bar.update()
                tqdm.write(summary_line(rec))
    finally:
        close(client, None if args.scheduler else getattr(client, "cluster", None))


def close(client, local_cluster) -> None:
    """Close the client and the LocalCluster with Ctrl-C held off: a Ctrl-C that lands while
    Dask shuts down (the sweep's last record written, or a second Ctrl-C) would cut the close
    midway and leave the process waiting on half-stopped workers."""
    import signal
    import threading

    held = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGINT, signal.SIG_IGN) if held else None
    try:
        client.close()
        if local_cluster is not None:
            local_cluster.close()
    finally:
        if held:
            signal.signal(signal.SIGINT, before)


def lost(h: str, p: dict, settings: dict, out: Path, e: Exception) -> dict:
    from .stages import one_line

    return {"hash": h, "config": p, "stages": settings, "run": str(out / "trials" / h),
            "status": "failed", "failed_stage": None, "figures": {}, "seconds": {},
            "commands": [], "error": f"the Dask task failed: {one_line(e)}"}


def summary_line(rec: dict) -> str:
    c = rec["config"]
    what = f"{rec['hash']} {c['cell']} {c['quant']} h{c['hidden']} p{c['parallel']}"
    secs = rec.get("seconds", {}).get("total")
    took = f" ({secs:.0f} s)" if secs is not None else ""
    if rec["status"] != "ok":
        return f"FAILED {what} at {rec.get('failed_stage')}: {rec.get('error')}{took}"
    f = rec["figures"]
    parts = [f"{f['train']['metric']} {f['train']['integer']:.4f}"]
    if "sim" in f:
        s = f["sim"]
        rtl = "none" if s["rtl_metric"] is None else f"{s['rtl_metric']:.4f}"
        parts.append(f"{s['sequences']} sequences simulated, rtl {rtl}, "
                     f"{s['mismatches']} mismatches")
    if "bitstream" in f:
        parts.append(f"{f['bitstream']['lut']} LUTs, Fmax {f['bitstream']['fmax_mhz']:.1f}")
    return f"ok {what}: {'; '.join(parts)}{took}"


if __name__ == "__main__":
    sys.exit(main())
