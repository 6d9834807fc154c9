"""bench/gpu_char_sweep.py: its rows are the GRU 160/256 records' configuration, and its
schedule keeps the priority order, the float rate's wait and the deadline."""

import json
import re
from pathlib import Path

from bench import gpu_char_sweep as G
from bench.char_ablation import load_records
from bench.lowprec import CHAR_SERIES

RESULTS = Path(__file__).resolve().parents[1] / "results"
BASE = {"cell": "gru", "mode": "weights", "epochs": 8, "batch": 32}


def _fields(record: str, name: str) -> dict:
    rec = next(r for r in load_records(RESULTS / record) if r["name"] == name)
    return {k: v for k, v in rec["fields"].items() if k not in ("data", "hidden", "seed")}


def test_rows_have_the_existing_records_names_and_fields():
    """The budgeted rows as the narrower widths ran them: the same name for the same fields
    (GRU 256's float and int8-edge ternary rows, GRU 128's int8-edge exponential at 0.01)."""
    for row, record in [(G.Row("float", 0, 0.01), "char-gru256-e8b32.jsonl"),
                        (G.Row("ternary", 0, 0.01), "char-gru256-e8b32.jsonl"),
                        (G.Row("exponential", 0, 0.01), "char-gru128-e8b32.jsonl")]:
        assert {**BASE, **row.fields(row.lr)} == _fields(record, row.name()), row
    drop = G.Row("float", 0, None, 0.25)
    assert drop.name(0.01) == "float-lr0.01-drop0.25"
    assert drop.fields(0.01) == {"quant": "float", "lr": 0.01, "dropout": 0.25}
    series = {"float": "float", "ternary": "ternary, int8 edges",
              "exponential": "exponential, int8 edges"}
    for row in G.ROWS:  # bench.lowprec puts each in its series
        label = "float + dropout" if row.dropout else series[row.quant]
        assert re.fullmatch(CHAR_SERIES[label], row.name(0.005)), row
    assert G.record_stem(384, 0) == "char-gru384-e8b32"
    assert G.record_stem(384, 1) == "char-gru384-e8b32-seed1"
    assert G.record_stem(384, 0, 3, extra=True) == "char-gru384-e3b32-extra"


def test_plan_keeps_priority_waits_for_the_float_rate_and_the_deadline():
    def est(_):
        return 100.0

    full = G.plan(G.ROWS, 8, est, 250)
    assert [r for r, _, _ in full] == G.ROWS  # all ten: seven at once, then the three
    starts = {r: s for r, s, _ in full}
    assert all(starts[r] == 0 for r in G.ROWS[:7])
    assert all(starts[r] == 100 for r in G.ROWS[7:])  # after seed 0's float rows
    assert [r for r, _, _ in G.plan(G.ROWS, 8, est, 199)] == G.ROWS[:7]
    one = G.plan(G.ROWS, 1, est, 450)
    assert [r for r, _, _ in one] == G.ROWS[:4] and [e for _, _, e in one] == [100, 200, 300, 400]
    assert G.plan(G.ROWS, 8, est, 99) == []


def test_launchable_skips_rows_that_cannot_end_in_time():
    def est(row):  # float rows are quick, quantized ones slow
        return 50.0 if row.quant == "float" else 500.0

    got = G.launchable(G.ROWS, floats_done=False, free=4, now=0, deadline=100, estimate=est)
    assert got == G.ROWS[:3]
    got = G.launchable(G.ROWS[3:], floats_done=True, free=2, now=0, deadline=100, estimate=est)
    assert got == [G.Row("float", 1, None), G.Row("float", 0, None, 0.1)]


def test_float_choice_waits_for_all_three_rates(tmp_path):
    stem = G.record_stem(384, 0)
    for lr, valid in ((0.005, 1.70), (0.01, 1.66)):
        rec = {"name": f"float-lr{lr:g}", "valid": [2.0, valid], "selected_epoch": None}
        (tmp_path / f"{stem}--float-lr{lr:g}.jsonl").write_text(json.dumps(rec) + "\n")
    assert G.float_choice(tmp_path, 384) is None
    rec = {"name": "float-lr0.02", "valid": [1.6, 1.68], "selected_epoch": 2}
    (tmp_path / f"{stem}--float-lr0.02.jsonl").write_text(json.dumps(rec) + "\n")
    assert G.float_choice(tmp_path, 384) == 0.01


def test_merge_appends_new_names_to_the_seed_records(tmp_path, capsys):
    src, results = tmp_path / "records", tmp_path / "results"
    src.mkdir()
    results.mkdir()
    (results / "char-gru384-e8b32.jsonl").write_text(json.dumps({"name": "float-lr0.01"}) + "\n")
    for stem, name in [("char-gru384-e8b32", "float-lr0.01"),
                       ("char-gru384-e8b32", "ternary-input-head-int8-lr0.01"),
                       ("char-gru384-e8b32-seed1", "float-lr0.01")]:
        (src / f"{stem}--{name}.jsonl").write_text(json.dumps({"name": name, "new": 1}) + "\n")
    assert G.merge(src, results) == 0
    seed0 = load_records(results / "char-gru384-e8b32.jsonl")
    assert seed0 == [{"name": "float-lr0.01"},
                     {"name": "ternary-input-head-int8-lr0.01", "new": 1}]
    assert load_records(results / "char-gru384-e8b32-seed1.jsonl") == [
        {"name": "float-lr0.01", "new": 1}]
    assert "float-lr0.01 is there already" in capsys.readouterr().out


def _setting(tmp_path, epochs=8):
    text = tmp_path / "input.txt"  # a char task from a plain text file: 90/5/5
    text.write_text("the cat sat on the mat and the dog ran to the log. " * 400)
    for sub in ("records", "logs", "runs"):
        (tmp_path / "work" / sub).mkdir(parents=True, exist_ok=True)
    return G.Setting(str(text), 8, "cpu", epochs)


def _probe(step_s):
    """A probe's figures, made up: 6 steps an epoch at `step_s` seconds, alone or two at once."""
    return {"steps_per_epoch": 6, "step_s": {q: step_s for q in G.QUANT}, "valid_s": 0.0,
            "finish_s": 0.0, "parallel": {1: {"step_s": step_s, "setup_s": 0.0},
                                          2: {"step_s": step_s, "setup_s": 0.0}}}


def test_an_unfitting_budget_runs_labelled_extra_rows_never_budgeted_ones(tmp_path,
                                                                          monkeypatch):
    """8 epochs do not fit the deadline, 1 does: float and ternary run 1 epoch under an
    `-extra` name and record; nothing is written under the budgeted record's name."""
    import time

    monkeypatch.setattr(G, "OVERHEAD_S", 0)
    a, work = _setting(tmp_path), tmp_path / "work"
    # an epoch estimated at 60 s: 8 epochs (480 s) and 2 (120 s) miss a 100 s deadline, 1
    # fits; the real tiny runs take seconds, so a loaded machine does not reach the deadline
    with open(tmp_path / "log", "w") as log:
        status = G.sweep(a, _probe(10.0), work, log, time.monotonic() + 100)
    names = sorted(p.name for p in (work / "records").iterdir())
    assert names == ["char-gru8-e1b32-extra--float-lr0.01-e1-extra.jsonl",
                     "char-gru8-e1b32-extra--ternary-input-head-int8-lr0.01-e1-extra.jsonl"]
    assert [s["status"] for s in status] == ["done", "done"], status
    rec = load_records(work / "records" / names[0])[0]
    assert len(rec["valid"]) == 1 and rec["fields"]["epochs"] == 1
    assert rec["fields"]["device"] == "cpu" and rec["name"] == "float-lr0.01-e1-extra"


def test_a_row_still_running_at_the_deadline_is_stopped_and_leaves_no_record(tmp_path,
                                                                             monkeypatch):
    import time

    monkeypatch.setattr(G, "OVERHEAD_S", 0)
    a, work = _setting(tmp_path), tmp_path / "work"
    rows = [G.Row("float", 0, 0.01)]
    monkeypatch.setattr(G, "ROWS", rows)
    with open(tmp_path / "log", "w") as log:  # estimated at 0 s, stopped after 2
        status = G.sweep(a, _probe(1e-9), work, log, time.monotonic() + 2)
    assert [s["status"] for s in status] == ["stopped at the deadline"]
    assert list((work / "records").iterdir()) == []
