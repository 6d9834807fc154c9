"""cocotb tests of the generated `top` against the reference model, bit for bit.

Run through sim/runner.py with SHIFTRNN_SIM_JOB pointing at a job (sim/job.py): the model,
its manifest and the sequences to stream. Every output beat is compared with
hw.reference's; the first mismatch names the sequence, step, unit, expected and got value.

- `stream` (per flow: `steady`, `stalls`): the job's sequences back to back; reports the
  RTL's beats, cycle counts and the measured cycles per step and latency.
- `reset_mid_sequence`: rst pulsed at a random cycle inside a sequence; the next sequence
  must be exact.
- `first_restarts`: a sequence abandoned without `last`; the next one's `first` must reset
  the state.
"""

from __future__ import annotations

import os
import time

import cocotb
import numpy as np

from hw.gen.manifest import load_manifest
from hw.modelfile import load
from hw.random_model import random_inputs
from hw.reference import Reference

from .expect import Checker, Item, expected_items
from .job import ENV, Flow, read_job, write_report
from .streams import Bench, Stats

FLOWS = ("steady", "stalls")


def setup(dut, salt: int):
    job, x, lengths = read_job()
    man = load_manifest(job.manifest)
    ref = Reference(load(job.model))
    rng = np.random.default_rng([job.seed, salt])
    return job, man, ref, x, lengths, rng


def summary(st: Stats, checker: Checker) -> dict:
    iv, lat = st.intervals, st.latencies
    return {
        "cycles": st.cycles, "steps": st.steps, "beats": st.beats,
        "mismatches": checker.mismatches, "first_mismatch": checker.first,
        "interval_min": min(iv, default=None), "interval_max": max(iv, default=None),
        "interval_mean": float(np.mean(iv)) if iv else None,
        "latency_min": min(lat, default=None), "latency_max": max(lat, default=None),
        "wall_s": st.wall_s, "cycles_per_second": st.cycles / st.wall_s if st.wall_s else None,
    }


@cocotb.test()
@cocotb.parametrize(flow=FLOWS)
async def stream(dut, flow: str) -> None:
    job, man, ref, x, lengths, rng = setup(dut, FLOWS.index(flow))
    cfg: Flow | None = job.flows.get(flow)
    if cfg is None:
        raise AssertionError(f"the job has no {flow!r} flow; run the tests it names")
    n = len(x) if cfg.count is None else min(cfg.count, len(x))
    items = [Item(str(i), x[i, :lengths[i]]) for i in range(n)]
    expected_items(ref, items, man.emit)
    checker = Checker(items, stop_at_first=job.stop_at_first)
    bench = Bench(dut, man, rng)
    await bench.start()
    total, every = int(sum(len(it.x) for it in items)), max(1, int(lengths[:n].sum()) // 20)

    def progress(k, _n, st):
        if job.progress and (k % every == 0 or k == total):
            rate = st.cycles / max(1e-9, time.perf_counter() - t0)
            dut._log.info(f"{flow}: {k}/{total} steps, {checker.mismatches} mismatches, "
                          f"{rate:.0f} cycles/s")

    t0 = time.perf_counter()
    st = await bench.run(items, checker, idle=cfg.idle, backpressure=cfg.backpressure,
                         progress=progress)
    checker.missing()
    report = summary(st, checker)
    report.update(flow=flow, sequences=n)
    write_report(job, f"stream_{flow}", report, checker.got)
    if checker.mismatches:
        raise AssertionError(f"{checker.mismatches} mismatched output beat(s); first: "
                             f"{checker.first}")


def _pair(ref, man, rng, cut_len: int, whole_len: int) -> list[Item]:
    xa = random_inputs(rng, ref.model, (cut_len,))
    xb = random_inputs(rng, ref.model, (whole_len,))
    return [Item("A (cut)", xa, closed=False), Item("B (after)", xb)]


def _job_checks() -> bool:
    """The job's `checks`, read when the simulator imports this module, so that a job without
    them reports the reset and `first` tests as skipped rather than passed."""
    return read_job()[0].checks if ENV in os.environ else True


NO_CHECKS = not _job_checks()


@cocotb.skipif(NO_CHECKS, reason="the job runs the stream flows only (Job.checks false)")
@cocotb.test()
async def reset_mid_sequence(dut) -> None:
    job, man, ref, *_, rng = setup(dut, 100)
    bench = Bench(dut, man, rng)
    await bench.start()
    for trial in range(3):
        accepts = int(rng.integers(1, 4))
        delay = int(rng.integers(0, man.latency + 2 * man.cycles_per_step + 1))
        # A is long enough that the reset always lands before its last beat is taken
        cut_len = accepts + delay // max(1, man.cycles_per_step) + 3
        items = _pair(ref, man, rng, cut_len, int(rng.integers(2, 6)))
        for it in items:
            it.label = f"{it.label}, trial {trial}"
        expected_items(ref, items, man.emit)
        checker = Checker(items)
        await bench.run(items, checker, idle=0.2, backpressure=0.2,
                        reset_after=(accepts, delay))
        checker.missing()
    write_report(job, "reset_mid_sequence", {"trials": 3})


@cocotb.skipif(NO_CHECKS, reason="the job runs the stream flows only (Job.checks false)")
@cocotb.test()
async def first_restarts(dut) -> None:
    job, man, ref, *_, rng = setup(dut, 200)
    bench = Bench(dut, man, rng)
    await bench.start()
    items = _pair(ref, man, rng, int(rng.integers(1, 5)), int(rng.integers(2, 6)))
    items += _pair(ref, man, rng, 1, 3)
    expected_items(ref, items, man.emit)
    checker = Checker(items)
    await bench.run(items, checker, idle=0.3, backpressure=0.3)
    checker.missing()
    write_report(job, "first_restarts", {"items": len(items)})
