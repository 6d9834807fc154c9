"""explore.iso: each scheme's cheapest design at equal accuracy, and `recommend`, computed
from trial records (made here: the tables are arithmetic over records, no stage runs)."""

import json

import pytest

from explore import iso
from explore.report import main as report_main
from explore.results import Trials
from hw.errors import UserError


def _rec(h, quant, hidden, acc, lut, steps, bits, board="icebreaker", bram=10):
    return {"hash": h, "run": f"/runs/{h}", "status": "ok",
            "config": {"task": "digits", "cell": "gru", "quant": quant, "hidden": hidden,
                       "board": board, "parallel": "auto", "storage": "memory"},
            "figures": {"train": {"metric": "accuracy", "integer": acc, "qat": acc,
                                  "weight_bits": bits},
                        "bitstream": {"lut": lut, "bram": bram, "steps_per_s": steps}}}


RECORDS = [
    _rec("t16aaaaaaaaa", "ternary", 16, 0.950, 3000, 90000, 2000),
    _rec("t32aaaaaaaaa", "ternary", 32, 0.980, 4500, 50000, 7000),
    _rec("i16aaaaaaaaa", "int8", 16, 0.960, 3400, 40000, 8000),
    _rec("i32aaaaaaaaa", "int8", 32, 0.982, 5200, 20000, 28000),
    {"hash": "badaaaaaaaaa", "status": "failed", "config": {"quant": "int8"}, "figures": {}},
]


def test_each_level_takes_each_schemes_cheapest_design_that_reaches_it():
    tables = {t.objective: t for t in iso.iso_tables(RECORDS)}
    luts = tables["luts"]
    assert luts.levels == (0.982, 0.980)  # each scheme's best, best first
    # at 98.0 % ternary needs its GRU 32; int8 reaches it only with its GRU 32
    assert luts.cells[0.980, "ternary"].value == 4500
    assert luts.cells[0.980, "int8"].value == 5200
    assert (0.982, "ternary") not in luts.cells  # ternary never reaches 98.2 %
    assert luts.ratio(0.980, "ternary", "int8") == pytest.approx(4500 / 5200)
    steps = tables["steps"]  # more is better: the fastest design at the level
    assert steps.cells[0.980, "int8"].value == 20000
    text = "\n".join(iso.markdown(list(tables.values())))
    assert "| 98.00 % | 5,200 (gru 32, i32aaa) | 4,500 (gru 32, t32aaa) | 0.87 |" in text


def test_recommend(tmp_path):
    trials = Trials(tmp_path)
    for r in RECORDS + [_rec("u32aaaaaaaaa", "ternary", 32, 0.99, 40000, 300000, 7000,
                             board="ulx3s")]:
        trials.append(r)
    best = iso.recommend(tmp_path, "icebreaker", "accuracy")
    assert best.hash == "i32aaaaaaaaa" and best.run.name == "i32aaaaaaaaa"
    # within half a point of the best (98.2 %): the ternary GRU 32 at 98.0 % has fewer LUTs
    cheap = iso.recommend(tmp_path, "icebreaker", "luts")
    assert cheap.hash == "t32aaaaaaaaa" and "98.20 %" in cheap.reason
    assert iso.recommend(tmp_path, "icebreaker", "luts", floor=0.95).hash == "t16aaaaaaaaa"
    assert iso.recommend(tmp_path, "ulx3s", "steps").hash == "u32aaaaaaaaa"
    with pytest.raises(UserError, match="holds no finished trial for the de10"):
        iso.recommend(tmp_path, "de10")
    with pytest.raises(UserError, match="objective must be accuracy or one of"):
        iso.recommend(tmp_path, "icebreaker", "speed")
    with pytest.raises(UserError, match="reaches accuracy 99.90 %"):
        iso.recommend(tmp_path, "icebreaker", "luts", floor=0.999)


def test_report_command_rewrites_the_report_and_prints_the_tables(tmp_path, capsys):
    trials = Trials(tmp_path)
    for r in RECORDS:
        trials.append(r)
    assert report_main([str(tmp_path), "--iso-accuracy", "--recommend", "luts"]) == 0
    out = capsys.readouterr().out
    assert "### LUTs at equal accuracy" in out and "build /runs/t32aaaaaaaaa" in out
    report = (tmp_path / "report.md").read_text()
    assert "## Each scheme at equal accuracy" in report
    assert report_main([str(tmp_path / "none")]) == 2
    assert "trials.jsonl does not exist" in capsys.readouterr().err
    json.dumps([r for r in RECORDS])  # the records are plain JSON, as trials.jsonl holds
