"""explore/: the space file, trials.jsonl, the Pareto front, and sweeps on Dask (a LocalCluster
of 2 workers, resume after a kill, a failing trial, an external `dask scheduler`/`dask worker`).

The sweeps use tiny trials (digits, GRU with 4 hidden units, 1 epoch) so each takes seconds.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explore import space as spaces
from explore.__main__ import main
from explore.report import front
from explore.results import Trials

ROOT = Path(__file__).resolve().parents[1]
TINY = 'hidden = 4\nepochs = 1\n'


def _space(tmp_path, text, name="space.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _explore(*args, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "explore", *map(str, args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def _records(out):
    return [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------- the space file

@pytest.mark.parametrize("text, key", [
    ('[axes]\nhiden = 4\n', "unknown key axes.hiden"),
    ('[axis]\nhidden = 4\n', "unknown key axis"),
    ('[axes]\nhidden = "four"\n', "axes.hidden must be a positive integer, not 'four'"),
    ('[axes]\nquant = ["ternary", "trinary"]\n', "axes.quant 'trinary' is not one of"),
    ('[axes]\nparallel = 0\n', "axes.parallel must be a positive integer, 'auto' or"),
    ('[axes]\nboard = "arty"\n', "axes.board 'arty' is not one of"),
    ('[stages]\nrun = ["verilog", "train"]\n', "stages.run must start with train"),
    ('[stages]\nrun = ["train", "sim"]\n', "stages.run has sim without verilog"),
    ('[stages]\nsim_sequences = -1\n', "stages.sim_sequences must be an integer >= 0"),
    ('[space]\nsampling = "random"\n', "space.samples must be at least 1"),
    ('[axes\n', "not valid TOML"),
])
def test_a_bad_space_file_gets_one_line_naming_the_key_and_exit_2(tmp_path, capsys, text,
                                                                    key):
    path = _space(tmp_path, text)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and key in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_a_missing_space_file_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"error: space file {tmp_path / 'nope.toml'} does not exist\n"


def test_grid_is_every_combination_and_random_a_seeded_subset_of_it(tmp_path):
    grid = spaces.load(_space(tmp_path, '[axes]\ncell = ["rnn", "gru", "lstm"]\n'
                                        'hidden = [4, 8]\nquant = ["binary", "ternary"]\n'))
    points = grid.points()
    keys = {(p["cell"], p["hidden"], p["quant"]) for p in points}
    assert len(points) == len(keys) == 12
    assert all(p["layers"] == 1 and p["task"] == "digits" for p in points)  # defaults
    text = ('[space]\nsampling = "random"\nsamples = 5\nseed = 3\n[axes]\n'
            'cell = ["rnn", "gru", "lstm"]\nhidden = [4, 8]\nquant = ["binary", "ternary"]\n')
    a = spaces.load(_space(tmp_path, text, "r.toml")).points()
    b = spaces.load(_space(tmp_path, text, "r.toml")).points()
    c = spaces.load(_space(tmp_path, text.replace("seed = 3", "seed = 4"), "r.toml")).points()
    assert a == b and len(a) == 5 and a != c
    assert len({json.dumps(p, sort_keys=True) for p in a}) == 5
    assert all(p in points for p in a + c)


def test_the_hash_changes_with_the_configuration_and_the_stages(tmp_path):
    sp = spaces.load(_space(tmp_path, '[axes]\nhidden = [4, 8]\n'))
    p4, p8 = sp.points()
    h = spaces.trial_hash(p4, sp.stages)
    assert h == spaces.trial_hash(dict(p4), sp.stages) and len(h) == 12
    assert h != spaces.trial_hash(p8, sp.stages)
    assert h != spaces.trial_hash(p4, spaces.StageSettings(sim_sequences=8))


def test_trials_of_one_shape_reuse_the_first_ones_design(tmp_path):
    from explore.__main__ import reuse
    from explore.stages import commands

    sp = spaces.load(_space(tmp_path, '[stages]\nreload = true\nrun = ["train", "verilog", '
                                      '"sim", "bitstream"]\n[axes]\nseed = [0, 1, 2]\n'
                                      'hidden = [4, 8]\n'))
    points = [(spaces.trial_hash(p, sp.stages), p) for p in sp.points()]
    keys = [spaces.shape_key(p) for _, p in points]
    assert len(set(keys)) == 2  # the seeds share a shape, the hidden sizes do not
    assert spaces.shape_key(dict(points[0][1], parallel="unrolled")) is None
    used = reuse(points, tmp_path)
    firsts = [h for h, _ in points if h not in used]
    assert len(firsts) == 2 and len(used) == 4
    assert all(spaces.shape_key(dict(points)[h]) == spaces.shape_key(dict(points)[used[h]])
               for h in used)
    # the first builds a reloadable design; the others load into it
    h0, p0 = points[0]
    argv = commands(p0, sp.stages, tmp_path / h0)
    assert argv["verilog"][-1] == "--reloadable" and argv["bitstream"][-1] == "--reloadable"
    h1 = next(h for h in used if used[h] == h0)
    st = spaces.StageSettings(**(spaces.asdict(sp.stages) | {"shape_from": str(tmp_path / h0)}))
    argv = commands(dict(points)[h1], st, tmp_path / h1)
    assert argv["verilog"] == ["hw", "load", str(tmp_path / h1), "--shape-from",
                               str(tmp_path / h0), "--check"]
    assert argv["sim"][:2] == ["sim.board_load", str(tmp_path / h1)]
    assert argv["bitstream"][-2:] == ["--port", "PORT"]
    # which trial a design comes from is not part of a trial's hash; reload is, when set
    assert spaces.trial_hash(p0, st) == spaces.trial_hash(p0, sp.stages)
    assert spaces.trial_hash(p0, sp.stages) != spaces.trial_hash(p0, spaces.StageSettings(
        run=["train", "verilog", "sim", "bitstream"]))


# ---------------------------------------------------------------- results and fronts

def test_a_torn_last_line_is_dropped_and_whole_lines_kept(tmp_path):
    t = Trials(tmp_path)
    t.append({"hash": "a", "status": "ok"})
    t.append({"hash": "b", "status": "failed"})
    with open(tmp_path / "trials.jsonl", "a") as fh:
        fh.write('{"hash": "c", "sta')  # a write cut short by a kill
    again = Trials(tmp_path)
    assert [r["hash"] for r in again.records] == ["a", "b"]
    assert (tmp_path / "trials.jsonl").read_text().endswith('"failed"}\n')
    assert again.done() == {"a", "b"} and again.done(retry_failed=True) == {"a"}


def test_the_front_keeps_exactly_the_points_nothing_beats():
    # (cost, accuracy): less cost and more accuracy are better
    pts = [(1, 0.5, "a"), (2, 0.9, "b"), (3, 0.8, "c"), (2, 0.4, "d"), (4, 0.9, "e")]
    assert [p[2] for p in front(pts, x_more=False, y_more=True)] == ["a", "b"]
    # (steps/s, bpc): more steps and less bpc are better
    pts = [(10, 2.0, "a"), (5, 1.5, "b"), (10, 2.5, "c"), (1, 1.5, "d")]
    assert [p[2] for p in front(pts, x_more=True, y_more=False)] == ["a", "b"]


# ---------------------------------------------------------------- sweeps on Dask

@pytest.mark.slow
def test_two_trials_on_a_local_cluster_of_two_workers(tmp_path):
    """train, verilog and sim over the whole test set: the RTL's accuracy is the integer
    model's, and the record's verilog command regenerates the same top.v."""
    path = _space(tmp_path, '[stages]\nrun = ["train", "verilog", "sim"]\n[axes]\n' + TINY
                  + 'quant = ["ternary", "binary"]\nparallel = [3]\n')
    out = tmp_path / "out"
    r = _explore(path, "--out", out, "--workers", 2)
    assert r.returncode == 0, r.stderr
    assert "LocalCluster of 2 workers" in r.stdout
    recs = _records(out)
    assert sorted(x["config"]["quant"] for x in recs) == ["binary", "ternary"]
    for rec in recs:
        assert rec["status"] == "ok" and rec["error"] is None, rec
        f = rec["figures"]
        assert f["sim"]["mismatches"] == 0 and f["sim"]["sequences"] == 359
        assert f["sim"]["rtl_metric"] == f["train"]["integer"] == f["train"]["qat"]
        assert set(rec["seconds"]) == {"train", "verilog", "sim", "total"}
        assert len(rec["commands"]) == 3
    run = Path(recs[0]["run"])
    first = (run / "top.v").read_text()
    (run / "top.v").unlink()
    cmd = recs[0]["commands"][1].split()
    assert cmd[:3] == ["python", "-m", "hw"]
    subprocess.run([sys.executable, *cmd[1:]], cwd=ROOT, check=True, capture_output=True)
    assert (run / "top.v").read_text() == first
    report = (out / "report.md").read_text()
    assert "accuracy against weight memory bits" in report
    assert (out / "pareto-weight_bits.png").is_file() and (out / "pareto-steps.png").is_file()


@pytest.mark.slow
def test_two_seeds_share_one_reloadable_design(tmp_path):
    """stages.reload: seed 0 generates a reloadable design and simulates it; seed 1 checks
    that its model fits that design's shape and runs its test set on the simulated board
    with its weights loaded over the simulated UART, 0 mismatches."""
    path = _space(tmp_path, '[stages]\nreload = true\nsim_sequences = 4\n'
                            'run = ["train", "verilog", "sim"]\n[axes]\n' + TINY
                  + 'seed = [0, 1]\nparallel = [3]\n')
    out = tmp_path / "out"
    r = _explore(path, "--out", out, "--workers", 2, timeout=600)
    assert r.returncode == 0, r.stderr
    recs = {x["config"]["seed"]: x for x in _records(out)}
    assert all(x["status"] == "ok" for x in recs.values()), recs
    built, reused = recs[0], recs[1]
    assert "--reloadable" in built["commands"][1]
    assert json.loads((Path(built["run"]) / "manifest.json").read_text())["reload"]
    f = reused["figures"]
    assert f["verilog"]["reused_from"] == built["run"]
    assert f["verilog"]["cycles_per_step"] == built["figures"]["verilog"]["cycles_per_step"]
    assert f["sim"]["mismatches"] == 0 and f["sim"]["sequences"] == 4
    assert f["sim"]["load_bytes"] > 0 and reused["commands"][2].startswith(
        "python -m sim.board_load")
    assert not (Path(reused["run"]) / "top.v").exists()  # no design of its own


@pytest.mark.slow
def test_a_sweep_killed_after_one_trial_runs_only_the_other_on_rerun(tmp_path):
    # the first sweep holds one of the two trials and is killed (SIGINT) once its record is
    # in; a trial's hash is its configuration's, so the rerun over both trials finds it done.
    # (Killing a two-trial sweep between its trials raced with Dask's result delivery in
    # clean-clone runs under load; here the kill can only land after the first record.)
    body = '[stages]\nrun = ["train"]\n[axes]\nhidden = 4\nepochs = 20\n'
    one = _space(tmp_path, body + 'quant = ["ternary"]\n', name="one.toml")
    path = _space(tmp_path, body + 'quant = ["ternary", "binary"]\n')
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, "-m", "explore", str(one), "--out", str(out),
                          "--workers", "1"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    jsonl = out / "trials.jsonl"
    deadline = time.monotonic() + 240
    while not (jsonl.is_file() and jsonl.read_text().count("\n") >= 1):
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    lines = jsonl.read_text().splitlines()
    # 130: the Ctrl-C landed before the sweep's end; 0: while Dask closed (held off there);
    # -SIGINT: while the interpreter exited (after main returned)
    assert p.returncode in (0, 130, -signal.SIGINT) and len(lines) == 1, (p.returncode, err)
    deadline = time.monotonic() + 30  # nothing of the sweep is left running
    while _processes_mentioning(out):
        assert time.monotonic() < deadline, _processes_mentioning(out)
        time.sleep(0.2)
    first = json.loads(lines[0])
    r = _explore(path, "--out", out, "--workers", 1)
    assert r.returncode == 0, r.stderr
    assert "2 trials, 1 finished before, 1 to run" in r.stdout
    recs = _records(out)
    assert recs[0] == first and len(recs) == 2
    assert {x["hash"] for x in recs} == {h for h, _ in _hashes(path)}
    assert all(x["status"] == "ok" for x in recs)


def _processes_mentioning(out: Path) -> list[str]:
    found = []
    for d in Path("/proc").iterdir():
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if d.name.isdigit() and str(out) in cmd:
            found.append(f"{d.name}: {cmd}")
    return found


def _hashes(path):
    sp = spaces.load(path)
    return [(spaces.trial_hash(p, sp.stages), p) for p in sp.points()]


@pytest.mark.slow
def test_a_failing_trial_is_recorded_with_its_line_and_the_other_completes(tmp_path):
    # a GRU's lanes come in whole units of 3 gate rows: 4 lanes cannot be built
    path = _space(tmp_path, '[stages]\nrun = ["train", "verilog"]\n[axes]\n' + TINY
                  + 'parallel = [3, 4]\n')
    out = tmp_path / "out"
    r = _explore(path, "--out", out, "--workers", 2)
    assert r.returncode == 0, r.stderr
    recs = {x["config"]["parallel"]: x for x in _records(out)}
    good, bad = recs[3], recs[4]
    assert good["status"] == "ok" and good["figures"]["verilog"]["parallel"] == 3
    assert bad["status"] == "failed" and bad["failed_stage"] == "verilog"
    assert "multiple of the 3 gate rows" in bad["error"] and "\n" not in bad["error"]
    assert "train" in bad["figures"] and "verilog" not in bad["figures"]
    assert "## Failed trials" in (out / "report.md").read_text()
    assert "Traceback" in (Path(bad["run"]) / "trial.log").read_text()  # the whole story


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_an_existing_scheduler_and_worker_started_as_processes(tmp_path):
    dask = Path(sys.executable).parent / "dask"
    addr = f"tcp://127.0.0.1:{_free_port()}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    logs = [open(tmp_path / n, "w") for n in ("scheduler.log", "worker.log")]
    sched = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port",
                              addr.rsplit(":", 1)[1], "--no-dashboard"], cwd=tmp_path,
                             env=env, stdout=logs[0], stderr=subprocess.STDOUT)
    worker = subprocess.Popen([dask, "worker", addr, "--nthreads", "1", "--no-dashboard",
                               "--resources", "bitstream=1"], cwd=tmp_path, env=env,
                              stdout=logs[1], stderr=subprocess.STDOUT)
    try:
        path = _space(tmp_path, '[stages]\nrun = ["train", "verilog"]\n[axes]\n' + TINY)
        out = tmp_path / "out"
        r = _explore(path, "--out", out, "--scheduler", addr)
        assert r.returncode == 0, r.stderr + (tmp_path / "worker.log").read_text()
        assert f"the Dask scheduler at {addr}" in r.stdout
        (rec,) = _records(out)
        assert rec["status"] == "ok" and rec["figures"]["verilog"]["cycles_per_step"] > 0
    finally:
        for proc in (worker, sched):
            proc.terminate()
        for proc in (worker, sched):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for fh in logs:
            fh.close()
    assert worker.returncode is not None and sched.returncode is not None


class _Client:
    def __init__(self, resources):
        self.workers = {f"w{i}": {"resources": r} for i, r in enumerate(resources)}

    def scheduler_info(self):
        return {"workers": self.workers}


def test_bitstream_trials_need_a_worker_that_offers_the_resource():
    from explore.cluster import check_resources
    from hw.errors import UserError

    check_resources(_Client([{}, {"bitstream": 1}]), True, "x")
    check_resources(_Client([{}]), False, "x")  # no bitstream stage: any worker will do
    with pytest.raises(UserError, match="--resources bitstream=1"):
        check_resources(_Client([{}, {"other": 2}]), True, "tcp://h:8786")


def test_a_trial_process_that_dies_without_a_record_is_a_failed_trial(tmp_path):
    from dataclasses import asdict

    from explore.trial import run_trial

    # a point without its axes: the trial's process raises before it can write a record
    rec = run_trial({}, asdict(spaces.StageSettings()), str(tmp_path / "run"), "k")
    assert rec["status"] == "failed" and rec["hash"] == "k"
    assert "ended with status 1 and no record" in rec["error"]
    assert "KeyError" in (tmp_path / "run" / "trial.log").read_text()
