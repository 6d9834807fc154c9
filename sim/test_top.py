"""cocotb tests of the generated top.v on Icarus and Verilator against the reference model.

Each configuration (sim/matrix.py; `pytest --full sim` for all of them) generates a random
model's Verilog with the real generator, builds it once in its own tmp folder and runs every
cocotb test of sim/tb_top.py on it: the sequences back to back without stalls and with random
idle cycles and backpressure (random, extreme and long sequences), a reset in the middle of a
sequence and an abandoned sequence. WAVES=1 records waveforms in the build folder.
"""

import re

import numpy as np
import pytest

from hw.gen.manifest import load_manifest
from hw.modelfile import load, save
from hw.random_model import random_model
from hw.reference import Reference
from sim import runner
from sim.job import Flow, Job, read_report, write_job
from sim.stimulus import generate, sequences


def prepare(tmp_path, model, parallel, *, long=0, seed=0, stalls=True, storage="memory",
            simd=1):
    run = generate(model, tmp_path / "run", parallel, storage, simd)
    x, lengths = sequences(model, np.random.default_rng(seed), count=8, max_len=10,
                           long_len=long)
    flows = {"steady": Flow(count=len(x) - (1 if long else 0))}
    if stalls:
        flows["stalls"] = Flow(idle=0.3, backpressure=0.3)
    job = write_job(Job(model=str(run / "model.json"), manifest=str(run / "manifest.json"),
                        folder=str(tmp_path / "build"), seed=seed, flows=flows), x, lengths)
    return run, job, x, lengths


def test_top_matches_reference(config, tmp_path):
    model = config.model()
    run, job, x, lengths = prepare(tmp_path, model, config.lanes, long=config.long,
                                   seed=config.seed, storage=config.storage, simd=config.simd)
    runner.build([run / "top.v"], "top", job.folder, config.simulator)
    result = runner.run("top", "sim.tb_top", job.folder, config.simulator, extra_env=job.env())
    assert result.tests == 4 and not result.failures and not result.skipped
    assert read_report(job.folder, "reset_mid_sequence")[0] == {"trials": 3}
    assert read_report(job.folder, "first_restarts")[0]["items"] == 4

    man = load_manifest(run / "manifest.json")
    steady, beats = read_report(job.folder, "stream_steady")
    stalls, _ = read_report(job.folder, "stream_stalls")
    n = len(x) - (1 if config.long else 0)
    assert steady["steps"] == lengths[:n].sum() and stalls["steps"] == lengths.sum()
    want = n if man.emit == "last" else lengths[:n].sum()
    assert steady["beats"] == len(beats["item"]) == want
    assert steady["mismatches"] == stalls["mismatches"] == 0
    # the manifest's published cycle counts are what the RTL does, without stalls
    assert steady["interval_min"] == steady["interval_max"] == man.cycles_per_step
    assert steady["latency_min"] == steady["latency_max"] == man.latency
    if config.long:
        assert lengths[-1] >= 1000


def test_mismatch_names_sequence_step_unit_expected_got(tmp_path):
    """The check can fail: against a reference whose head bias is one LSB off, the run fails
    at the first beat, naming where, the (wrong) reference value and the RTL's value."""
    model = random_model(cell="gru", scheme="ternary", input_size=3, hidden_size=4, seed=5)
    run, job, x, lengths = prepare(tmp_path, model, 6, seed=5, stalls=False)
    wrong = load(run / "model.json")
    wrong.head.bias[1] += 1
    save(wrong, tmp_path / "wrong.json")
    job.model = str(tmp_path / "wrong.json")
    job.checks = False
    write_job(job, x, lengths)
    runner.build([run / "top.v"], "top", job.folder, "icarus")
    with pytest.raises(runner.SimulationFailed) as e:
        runner.run("top", "sim.tb_top", job.folder, "icarus", extra_env=job.env(),
                   test_filter="stream/flow=steady")
    m = re.search(r"sequence (\d+), step (\d+), unit data\[1\]: expected (-?\d+), got (-?\d+)",
                  str(e.value))
    assert m, str(e.value)
    seq, step, exp, got = map(int, m.groups())
    assert (seq, step) == (0, lengths[0] - 1)
    h = Reference(model).run(x[0, :lengths[0]])[-1]
    assert got == Reference(model).head(h)[1]
    assert exp == Reference(wrong).head(h)[1] and exp != got


def test_a_job_without_checks_skips_the_reset_and_first_tests(tmp_path):
    """They are reported as skipped, not as passed (no test filter: cocotb runs a skipped test
    that a filter names)."""
    model = random_model(cell="rnn", scheme="ternary", input_size=2, hidden_size=3, seed=2)
    run, job, x, lengths = prepare(tmp_path, model, 1)
    job.checks = False
    write_job(job, x, lengths)
    runner.build([run / "top.v"], "top", job.folder, "icarus")
    result = runner.run("top", "sim.tb_top", job.folder, "icarus", extra_env=job.env())
    assert result.tests == 4 and not result.failures
    assert sorted(result.skipped) == ["first_restarts", "reset_mid_sequence"]


def test_unknown_and_missing_simulator(tmp_path, monkeypatch):
    from hw.errors import UserError

    with pytest.raises(UserError, match="unknown simulator 'modelsim'"):
        runner.check_simulator("modelsim")
    monkeypatch.setattr(runner.shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="iverilog is not on PATH"):
        runner.check_simulator("icarus")
