"""Issue 32's PTB char width sweep on a GPU: a probe of seconds per epoch, then as many of the
budgeted rows as fit a deadline, in parallel processes (bench.char_ablation records).

    python -m bench.gpu_char_sweep all --data ../shared/data/ptb_char --hidden 384 \\
        --device cuda --budget 480 --out OUT
    python -m bench.gpu_char_sweep probe --data ../shared/data/ptb_char --hidden 384 \\
        --device cpu --window 60          # seconds per epoch here, nothing written
    python -m bench.gpu_char_sweep merge --from DIR --results results

`all` (one command for a machine lent for minutes): (1) probes, in fresh processes, the
trainer's seconds per step of a GRU `--hidden` on the real training text (`train.loop.
train_epoch` on a cut of the training split: batches, forward, backward, Adam, clipping)
alone for float and the two int8-edge quantized rows, with one validation pass on the device
and the CPU's final test metric and export over a cut of the test split (scaled up), then
with `--procs` processes at once (float; do they share the GPU well?); (2) picks the number
of parallel processes whose schedule (`plan`) completes the most rows, and runs the rows in
priority order (ROWS; the float rows of seed 1 and with dropout wait for seed 0's three
float rates, then take the rate validation chose, `bench.lowprec.choose`), each with its
own `--record` file, starting a row only if its estimate ends before the deadline
(`--budget` seconds from the start, probe included) and stopping any still running there;
(3) writes OUT/probe.json, OUT/sweep.json (each row: status, seconds) and OUT/runs.tar.gz
(records, logs, each run's train.json and curves.png); at most 8 files come back from a lent
machine. If no budgeted 8-epoch row fits, it runs float and ternary at the epochs that fit
as an extra, `char-gruH-eEb32-extra`, never under a budgeted row's name (issue 32's rule).

Rows (issue 32; the configuration of the GRU 160/256 records in results/): base `{"cell":
"gru", "hidden": H, "mode": "weights", "epochs": 8, "batch": 32}`; float at lr 0.005, 0.01,
0.02 (seed 0); ternary and exponential recurrent matrices with int8 edges at lr 0.01 (the
rate GRU 256's ternary row took on validation; `lr_scale` none as there), seeds 0 and 1;
float at validation's rate on seed 1; float + dropout 0.1 and 0.25 at that rate (seed 0).
Every row's fields carry `"device"`. `merge` appends the per-row records to results/
`char-gruH-e8b32.jsonl` (seed 0) and `-seed1.jsonl`, where bench.lowprec reads them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

EPOCHS, BATCH, LR = 8, 32, 0.01
INT8_EDGES = {"input_quant": "int8", "head_quant": "int8"}
QUANT = {"float": {"quant": "float"},
         "ternary": {"quant": "ternary", **INT8_EDGES, "lr_scale": "none"},
         "exponential": {"quant": "exponential", **INT8_EDGES}}


@dataclasses.dataclass(frozen=True)
class Row:
    """One budgeted run. `lr` None: the rate validation chose among seed 0's float rows."""
    quant: str
    seed: int
    lr: float | None
    dropout: float = 0.0

    @property
    def waits(self) -> bool:
        return self.lr is None

    def name(self, lr: float | None = None) -> str:
        """The record name at `lr` (a waiting row without one: `lr?`, for the logs)."""
        lr = self.lr if lr is None else lr
        stem = "float" if self.quant == "float" else f"{self.quant}-input-head-int8"
        rate = "?" if lr is None else f"{lr:g}"
        return f"{stem}-lr{rate}" + (f"-drop{self.dropout:g}" if self.dropout else "")

    def fields(self, lr: float) -> dict:
        out = {**QUANT[self.quant], "lr": lr}
        return {**out, "dropout": self.dropout} if self.dropout else out


@dataclasses.dataclass(frozen=True)
class Setting:
    """What every row of one sweep shares."""
    data: str
    hidden: int
    device: str
    epochs: int = EPOCHS  # the budget; fewer only for a dry run


FLOAT_RATES = (0.005, 0.01, 0.02)
ROWS = [*(Row("float", 0, lr) for lr in FLOAT_RATES),
        Row("ternary", 0, LR), Row("exponential", 0, LR),
        Row("ternary", 1, LR), Row("exponential", 1, LR),
        Row("float", 1, None), Row("float", 0, None, 0.1), Row("float", 0, None, 0.25)]


def record_stem(hidden: int, seed: int, epochs: int = EPOCHS, extra: bool = False) -> str:
    seed_part = f"-seed{seed}" if seed else ""
    return f"char-gru{hidden}-e{epochs}b{BATCH}{seed_part}" + ("-extra" if extra else "")


def launchable(queue: list[Row], floats_done: bool, free: int, now: float, deadline: float,
               estimate) -> list[Row]:
    """The rows to start now, in priority order: free slots, ready (a waiting row once seed 0's
    float rows are done), and estimated to end by the deadline."""
    out = []
    for row in queue:
        if len(out) == free:
            break
        if (floats_done or not row.waits) and now + estimate(row) <= deadline:
            out.append(row)
    return out


def plan(rows: list[Row], slots: int, estimate, budget: float) -> list[tuple[Row, float, float]]:
    """The schedule the sweep would follow if every row took its estimate: (row, start, end)."""
    queue, running, done, now = list(rows), [], [], 0.0
    seed0_floats = [r for r in rows if r.quant == "float" and r.seed == 0 and not r.waits]
    while True:
        finished = {r for r, _, end in done if end <= now}
        floats_done = all(r in finished for r in seed0_floats)
        for row in launchable(queue, floats_done, slots - len(running), now, budget, estimate):
            queue.remove(row)
            running.append((row, now, now + estimate(row)))
        if not running:
            return done
        first = min(running, key=lambda x: x[2])
        running.remove(first)
        done.append(first)
        now = first[2]


# ---------------------------------------------------------------- the probe (one process)
def probe_one(data_path: str, hidden: int, device: str, quants: list[str], window: float,
              start_at: float | None = None, finish_cut: int = 0) -> dict:
    """Seconds per training step of each quantizer's row (after a warm-up), one validation
    pass on `device`, and (finish_cut > 0) the CPU's final test metric and export scaled
    from a cut of that many test sequences."""
    t0 = time.monotonic()
    import torch

    from train import data, export, loop
    from train.config import Config

    task = data.load("char", data_path, seed=0, seq_len=100)
    out = {"device": device, "torch": torch.__version__, "hidden": hidden,
           "steps_per_epoch": math.ceil(len(task.train) / BATCH), "step_s": {}}
    if device == "cuda":
        out["gpu"] = torch.cuda.get_device_name()

    def cut(split, n):
        return data.Split(split.x[:n], split.lengths[:n], split.y[:n])

    chunk = 10  # steps per train_epoch call
    small = dataclasses.replace(task, train=cut(task.train, chunk * BATCH))
    for k, quant in enumerate(quants):
        cfg = Config(task="char", data=data_path, cell="gru", hidden=hidden, mode="weights",
                     epochs=EPOCHS, batch=BATCH, lr=LR, device=device, **QUANT[quant]).check()
        torch.set_num_threads(cfg.threads)
        net = loop.make_net(cfg, small, cfg.quant, cfg.mode).to(device)
        opt = torch.optim.Adam(net.param_groups(cfg.lr_scale), lr=cfg.lr)
        inputs = loop.Inputs(small, export.shell(net, small), device)

        block = (net, opt, cfg, inputs, 0, "probe", 0, 1, cfg.lr, False)  # train_epoch's args
        loop.train_epoch(*block)  # warm-up: CUDA context, cuDNN plans, the allocator
        if k == 0:
            out["setup_s"] = round(time.monotonic() - t0, 2)
            while start_at is not None and time.time() < start_at:
                loop.train_epoch(*block)  # as busy as the others until all start timing
        t, steps = time.monotonic(), 0
        while time.monotonic() - t < window:
            loop.train_epoch(*block)
            steps += chunk
        out["step_s"][quant] = (time.monotonic() - t) / steps
        out.setdefault("steps_timed", {})[quant] = steps
    if finish_cut:
        t = time.monotonic()
        loop.evaluate(net, loop.Inputs(task, export.shell(net, task), device), task.valid)
        out["valid_s"] = round(time.monotonic() - t, 2)
        net.cpu()  # as train.loop.finish: the test metric and the export on the CPU
        n = min(finish_cut, len(task.test))
        part = cut(task.test, n)
        t = time.monotonic()
        loop.evaluate(net, loop.Inputs(task, export.shell(net, task)), part)
        model = export.to_model(net, task, {})
        export.integer_metric(model, task, export.testset(model, task, part))
        out["finish_s"] = round((time.monotonic() - t) * len(task.test) / n, 1)
        out["finish_cut"] = n
    return out


def epoch_s(probe: dict, quant: str, step_s: float | None = None) -> float:
    """Seconds of one epoch of `quant`'s row: its training steps at `step_s` (float's time per
    step with that many processes, scaled by quant's ratio to float alone), one validation."""
    ratio = probe["step_s"][quant] / probe["step_s"]["float"]
    base = probe["step_s"]["float"] if step_s is None else step_s
    return probe["steps_per_epoch"] * base * ratio + probe.get("valid_s", 0.0)


# what a row's process does besides the probed parts (imports, checkpoints, curves.png,
# model.json, testset.npz): its rows took 3 to 7 s longer than estimated in the CPU dry run
OVERHEAD_S = 10


def row_estimate(probe: dict, step_s: float, setup_s: float, epochs: int = EPOCHS):
    def estimate(row: Row) -> float:
        return (OVERHEAD_S + setup_s + epochs * epoch_s(probe, row.quant, step_s)
                + probe.get("finish_s", 0))
    return estimate


# ---------------------------------------------------------------- orchestration
def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.gpu_char_sweep", *args]


def _say(log, line: str) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {line}"
    print(line, flush=True)
    log.write(line + "\n")
    log.flush()


def run_probes(a, log) -> dict:
    """The single-process probe (every quantizer, validation, finish), then `--procs`
    processes of float at once; returns the first's dict with `parallel` {procs: step_s}."""
    common = ["probe", "--data", a.data, "--hidden", str(a.hidden), "--device", a.device]
    r = subprocess.run(_python(*common, "--window", str(a.window), "--finish-cut", "200",
                               "--quants", "float,ternary,exponential"),
                       capture_output=True, text=True, timeout=a.budget)
    if r.returncode:
        raise RuntimeError(f"probe failed: {r.stderr[-2000:]}")
    probe = json.loads(r.stdout.splitlines()[-1])
    probe["parallel"] = {1: {"step_s": probe["step_s"]["float"], "setup_s": probe["setup_s"]}}
    _say(log, f"probe, 1 process: {json.dumps(probe)}")
    for n in a.procs:
        start_at = time.time() + a.setup_wait
        procs = [subprocess.Popen(_python(*common, "--window", str(a.window), "--quants",
                                          "float", "--start-at", str(start_at)),
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for _ in range(n)]
        outs = [(p.communicate()[0], p.returncode) for p in procs]
        got = [json.loads(o.splitlines()[-1]) for o, rc in outs if rc == 0 and o.strip()]
        if len(got) < n:
            _say(log, f"probe, {n} processes at once: {n - len(got)} failed; not used")
            continue
        step = sum(g["step_s"]["float"] for g in got) / n
        late = sum(g["setup_s"] > a.setup_wait for g in got)
        probe["parallel"][n] = {"step_s": step, "setup_s": max(g["setup_s"] for g in got),
                                "late_starters": late}
        _say(log, f"probe, {n} processes at once: {step * 1000:.2f} ms a step each "
                  f"({n / step:.0f} steps/s in all against {1 / probe['step_s']['float']:.0f} "
                  f"alone), {late} began timing late")
    return probe


def choose_slots(probe: dict, rows: list[Row], budget: float,
                 epochs: int = EPOCHS) -> tuple[int, list]:
    """The probed process count whose plan completes the most rows (then: ends soonest)."""
    best = None
    for n, p in sorted(probe["parallel"].items()):
        est = row_estimate(probe, p["step_s"], p["setup_s"], epochs)
        sched = plan(rows, n, est, budget)
        key = (len(sched), -max((e for _, _, e in sched), default=0))
        if best is None or key > best[0]:
            best = (key, n, sched)
    return best[1], best[2]


def float_choice(records: Path, hidden: int, epochs: int = EPOCHS) -> float | None:
    """The rate validation chose among seed 0's float rows (None until all three are in)."""
    from bench.char_ablation import load_records
    from bench.lowprec import choose

    recs = [r for lr in FLOAT_RATES for r in load_records(
        records / f"{record_stem(hidden, 0, epochs)}--float-lr{lr:g}.jsonl")]
    if len(recs) < len(FLOAT_RATES):
        return None
    name = choose([recs], r"float-lr[0-9.]+", higher_better=False)
    return float(name.removeprefix("float-lr"))


def start(a: Setting, row: Row, lr: float, out: Path, epochs: int, extra: bool = False):
    stem = record_stem(a.hidden, row.seed, epochs, extra)
    name = row.name(lr) + (f"-e{epochs}-extra" if extra else "")
    base = {"cell": "gru", "hidden": a.hidden, "mode": "weights", "epochs": epochs,
            "batch": BATCH, **({"seed": row.seed} if row.seed else {}), "device": a.device}
    cmd = [sys.executable, "-m", "bench.char_ablation", "--data", a.data, "--base",
           json.dumps(base), "--variant", name, json.dumps(row.fields(lr)),
           "--record", str(out / "records" / f"{stem}--{name}.jsonl"),
           "--runs", str(out / "runs" / stem)]
    log = open(out / "logs" / f"{stem}--{name}.log", "w")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_MININTERVAL": "20"}
    return name, stem, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def sweep(a: Setting, probe: dict, work: Path, log, deadline: float) -> list[dict]:
    """Run the rows (module docstring) until `deadline` (time.monotonic()); each row's
    status, name and seconds."""
    slots, sched = choose_slots(probe, ROWS, deadline - time.monotonic(), a.epochs)
    p = probe["parallel"][slots]
    est = row_estimate(probe, p["step_s"], p["setup_s"], a.epochs)
    _say(log, f"{slots} processes at once: the plan completes {len(sched)} of {len(ROWS)} "
              f"rows; estimates (s): " + ", ".join(f"{r.name()} seed {r.seed} {est(r):.0f}"
                                                  for r in ROWS))
    epochs, extra, queue = a.epochs, False, list(ROWS)
    if not sched:  # not one budgeted row fits: extras at the epochs that fit, labelled so
        queue, extra = [Row("float", 0, LR), Row("ternary", 0, LR)], True
        fits = [(len(sched), e, slots) for e in range(a.epochs - 1, 0, -1)
                for slots, sched in [choose_slots(probe, queue, deadline - time.monotonic(), e)]
                if sched]
        if not fits:
            _say(log, "not even one epoch of a row fits the budget: nothing runs")
            return []
        _, epochs, slots = max(fits)  # both rows if they fit, then the most epochs
        p = probe["parallel"][slots]
        est = row_estimate(probe, p["step_s"], p["setup_s"], epochs)
        _say(log, f"no {a.epochs}-epoch row fits: extra rows at {epochs} epochs, "
                  f"{slots} at once")
    running, status = [], []
    while queue or running:
        for proc in [x for x in running if x[3].poll() is not None]:
            running.remove(proc)
            row, name, stem, popen, t0 = proc
            ok = popen.returncode == 0
            status.append({"name": name, "record": stem, "status": "done" if ok else
                           f"failed ({popen.returncode})", "seconds": round(time.monotonic()
                                                                           - t0, 1)})
            _say(log, f"{name} ({stem}): {status[-1]['status']} in {status[-1]['seconds']} s")
        lr_choice = float_choice(work / "records", a.hidden, epochs)
        floats_done = lr_choice is not None
        for row in launchable(queue, floats_done, slots - len(running), time.monotonic(),
                              deadline, est):
            queue.remove(row)
            name, stem, popen = start(a, row, row.lr or lr_choice, work, epochs, extra)
            running.append((row, name, stem, popen, time.monotonic()))
            _say(log, f"start {name} ({stem}), estimate {est(row):.0f} s")
        if time.monotonic() >= deadline:
            break
        if not running and queue and not any(not r.waits or floats_done for r in queue):
            break  # waiting on float rows that will never run
        if not running and not launchable(queue, floats_done, slots, time.monotonic(),
                                          deadline, est):
            break
        time.sleep(2)
    for _, name, stem, popen, t0 in running:  # past the deadline: stop, say so
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(20)
        except subprocess.TimeoutExpired:
            popen.kill()
        status.append({"name": name, "record": stem, "status": "stopped at the deadline",
                       "seconds": round(time.monotonic() - t0, 1)})
        _say(log, f"{name}: stopped at the deadline after {status[-1]['seconds']} s")
    for row in queue:
        status.append({"name": row.name(), "record": record_stem(a.hidden, row.seed, epochs,
                                                                 extra),
                       "status": "not started"})
    return status


def epoch_seconds(work: Path) -> dict:
    """Each finished run's seconds per epoch, from its train.json."""
    out = {}
    for f in sorted(work.glob("runs/*/*/train.json")):
        eps = json.loads(f.read_text())["epochs"]
        out[f"{f.parent.parent.name}/{f.parent.name}"] = [e["seconds"] for e in eps]
    return out


def pack(work: Path, dest: Path) -> None:
    with tarfile.open(dest, "w:gz") as tar:
        for sub in ("records", "logs"):
            tar.add(work / sub, arcname=sub)
        for f in sorted(work.glob("runs/*/*/*")):
            if f.name in ("train.json", "curves.png"):
                tar.add(f, arcname=str(f.relative_to(work)))


def run_all(a) -> int:
    t0 = time.monotonic()
    deadline = t0 + a.budget
    out = Path(a.out)
    work = Path(a.work)
    for sub in ("records", "logs", "runs"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    with open(out / "sweep.log", "w") as log:
        probe = run_probes(a, log)
        (out / "probe.json").write_text(json.dumps(probe, indent=1) + "\n")
        setting = Setting(a.data, a.hidden, a.device, a.epochs)
        status = sweep(setting, probe, work, log, deadline - a.pack_s)
        summary = {"rows": status, "epoch_seconds": epoch_seconds(work),
                   "wall_s": round(time.monotonic() - t0, 1)}
        (out / "sweep.json").write_text(json.dumps(summary, indent=1) + "\n")
        pack(work, out / "runs.tar.gz")
        _say(log, f"done in {summary['wall_s']} s: "
                  f"{sum(s['status'] == 'done' for s in status)} rows finished")
    return 0


def merge(src: Path, results: Path) -> int:
    """Append each per-row record file's lines to its results/ record (seed, budget and
    `-extra` by its file name), leaving out names the record holds already."""
    from bench.char_ablation import load_records

    for f in sorted(src.glob("*--*.jsonl")):
        target = results / f"{f.name.split('--')[0]}.jsonl"
        have = {r["name"] for r in load_records(target)}
        for rec in load_records(f):
            if rec["name"] in have:
                print(f"{target.name}: {rec['name']} is there already; kept the old line")
                continue
            with target.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(f"{target.name}: + {rec['name']}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("all", "probe"):
        s = sub.add_parser(name)
        s.add_argument("--data", required=True)
        s.add_argument("--hidden", type=int, default=384)
        s.add_argument("--device", default="cuda")
        s.add_argument("--window", type=float, default=6.0, help="seconds timed per probe")
    s = sub.choices["probe"]
    s.add_argument("--quants", default="float")
    s.add_argument("--start-at", type=float, help="time.time() at which to start timing")
    s.add_argument("--finish-cut", type=int, default=0)
    s = sub.choices["all"]
    s.add_argument("--budget", type=float, default=480, help="seconds for everything")
    s.add_argument("--procs", type=lambda v: [int(x) for x in v.split(",")], default=[7],
                   help="process counts probed besides 1 (comma-separated; 7: the rows "
                        "ready at the start)")
    s.add_argument("--setup-wait", type=float, default=25,
                   help="seconds the parallel probe's processes get to start")
    s.add_argument("--epochs", type=int, default=EPOCHS, help="budget (8; less: a dry run)")
    s.add_argument("--pack-s", type=float, default=20, help="seconds kept for packing")
    s.add_argument("--out", required=True)
    s.add_argument("--work", default="build/gpu-sweep")
    s = sub.add_parser("merge")
    s.add_argument("--from", dest="src", required=True)
    s.add_argument("--results", default="results")
    a = p.parse_args(argv)
    if a.cmd == "probe":
        print(json.dumps(probe_one(a.data, a.hidden, a.device, a.quants.split(","), a.window,
                                   a.start_at, a.finish_cut)))
        return 0
    if a.cmd == "merge":
        return merge(Path(a.src), Path(a.results))
    return run_all(a)


if __name__ == "__main__":
    sys.exit(main())
