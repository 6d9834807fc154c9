"""bench/fit_runs.py: a trained run's metric next to the folding `--parallel auto` chooses."""

import json

from bench import fit_runs
from hw import modelfile
from hw.board.registry import BOARDS
from hw.gen.topplan import TopPlan
from hw.random_model import random_model


def _run(tmp_path, name, **kw):
    run = tmp_path / name
    run.mkdir()
    model = random_model(cell="gru", input_size=6, hidden_size=8, outputs=5, **kw)
    modelfile.save(model, run / "model.json")
    (run / "train.json").write_text(json.dumps({"metric": "bpc", "integer": 2.5}))
    return run, model


def test_rows_follow_the_fit_and_an_int8_edge_costs_dsp_blocks(tmp_path, capsys):
    dev = BOARDS["ulx3s"].device
    tern, m_tern = _run(tmp_path, "tern", scheme="ternary")
    hyb, m_hyb = _run(tmp_path, "hyb", scheme="ternary", input_scheme="int8", head_scheme="int8")
    rows = [fit_runs.row(tern, dev), fit_runs.row(hyb / "model.json", dev)]
    for r, m in zip(rows, (m_tern, m_hyb), strict=True):
        p = TopPlan.auto(m, dev, image=False)
        assert (r["parallel"], r["simd"], r["order"], r["cycles_per_step"], r["dsps"]) == (
            p.parallel, p.simd, p.order, p.cycles_per_step,
            p.resources["multipliers"] + p.resources["elementwise_multipliers"])
        assert r["metric"] == ("bpc", 2.5)
        assert r["weights"] == 3 * 8 * (6 + 8) + 5 * 8
    assert rows[0]["schemes"] == "ternary"
    assert rows[1]["schemes"] == "ternary (input int8, head int8)"
    # shift-and-add lanes need no DSP block for weights; int8 edges make every lane multiply
    assert rows[1]["dsps"] >= rows[1]["parallel"] * rows[1]["simd"] > rows[0]["dsps"]
    assert fit_runs.main([str(tern), str(hyb), "--board", "ulx3s"]) == 0
    out = capsys.readouterr().out
    assert "| tern | 376 (ternary) | 2.500 bpc |" in out and "| hyb |" in out


def test_a_missing_model_file_or_a_malformed_train_json_is_one_line(tmp_path, capsys):
    assert fit_runs.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path}: no model.json there"]
    run, _ = _run(tmp_path, "bad", scheme="ternary")
    (run / "train.json").write_text("{not json")
    assert fit_runs.main([str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {run / 'train.json'} is not valid JSON: Expecting property name "
                   f"enclosed in double quotes at line 1"]
