"""The speed-up of a LocalCluster of W workers over 1 worker on the same space, in one run.

    .venv/bin/python -m bench.explore_speedup [--space spaces/digits-small.toml]
        [--workers 2] [--out build/bench-explore]

Runs `python -m explore SPACE --workers 1`, then `--workers W`, each into a fresh folder
(OUT/w1, OUT/wW: nothing resumed), and prints both wall times (cluster start-up and report
included), their ratio, the sum of the trials' own seconds and the 1-minute load average
before and after each run (the ratio means little when other jobs share the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep(space: str, out: Path, workers: int) -> dict:
    if out.exists():
        shutil.rmtree(out)
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "explore", space, "--out", str(out), "--workers",
                    str(workers)], cwd=ROOT, check=True,
                   env=dict(os.environ, OMP_NUM_THREADS="1"))
    wall = time.monotonic() - t0
    recs = [json.loads(x) for x in (out / "trials.jsonl").read_text().splitlines()]
    return {"workers": workers, "wall": wall, "trials": len(recs),
            "failed": sum(r["status"] != "ok" for r in recs),
            "trial_s": sum(r["seconds"].get("total", 0) for r in recs),
            "load": (load0, os.getloadavg()[0])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="spaces/digits-small.toml")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="build/bench-explore")
    args = ap.parse_args()
    out = Path(args.out)
    runs = [sweep(args.space, out / "w1", 1),
            sweep(args.space, out / f"w{args.workers}", args.workers)]
    print(f"\n{args.space} on {os.cpu_count()} cores\n")
    print("| workers | trials | failed | wall s | sum of trial s | load avg before/after |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['workers']} | {r['trials']} | {r['failed']} | {r['wall']:.0f} | "
              f"{r['trial_s']:.0f} | {r['load'][0]:.1f} / {r['load'][1]:.1f} |")
    print(f"\nspeed-up of {args.workers} workers over 1: {runs[0]['wall'] / runs[1]['wall']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
