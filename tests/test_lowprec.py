"""bench/lowprec.py: which variant validation chooses, the means over seeds, the plots."""

import json

from bench import lowprec


def _rec(name, test, valid, train=2.0, **kw):
    return {"name": name, "qat": test, "integer": test, "valid": [9.0, valid],
            "train": [9.0, train], "seconds": 60.0, **kw}


def _write(path, recs):
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_validation_chooses_among_the_variants_every_seed_ran(tmp_path):
    _write(tmp_path / "char-gru64-e8b32.jsonl", [
        _rec("float-lr0.01", 1.70, 1.80), _rec("float-lr0.005", 1.60, 1.75),
        _rec("float-lr0.01-drop0.1", 1.65, 1.70),
        _rec("ternary-input-head-int8-lr0.03-warmup1", 1.68, 1.78),
        _rec("ternary-input-head-int8-lr0.01", 1.50, 1.74),  # seed 0 only: not chosen
        _rec("ternary-input-head-int8-kd0.5", 1.0, 1.0)])  # not a setting of the series
    _write(tmp_path / "char-gru64-e8b32-seed1.jsonl", [
        _rec("float-lr0.01", 1.72, 1.82), _rec("float-lr0.01-drop0.1", 1.69, 1.72),
        _rec("ternary-input-head-int8-lr0.03-warmup1", 1.74, 1.80)])
    _write(tmp_path / "char-gru64-e2b32.jsonl", [_rec("float", 1.0, 1.0)])  # another budget
    rows = {r.series: r for r in lowprec.rows(tmp_path, "char")}
    assert set(rows) == {"float", "float + dropout", "ternary, int8 edges"}
    f, t = rows["float"], rows["ternary, int8 edges"]
    assert (f.variant, f.seeds, f.tests) == ("float-lr0.01", 2, {0: 1.70, 1: 1.72})
    assert t.variant == "ternary-input-head-int8-lr0.03-warmup1"
    assert abs(t.test - 1.71) < 1e-12 and abs(t.valid - 1.79) < 1e-12 and t.train == 2.0
    assert rows["float + dropout"].variant == "float-lr0.01-drop0.1"
    table = lowprec.table(list(rows.values()), percent=False).splitlines()
    # paired by seed: against float -0.02 and +0.02 (mean 0, standard error 0.02, one seed
    # better), against float + dropout +0.03 and +0.05 (mean 0.04, standard error 0.01)
    assert table[4] == ("| GRU | 64 | ternary, int8 edges (`ternary-input-head-int8-lr0.03-"
                        "warmup1`) | 2 | 2.000 | 1.790 | 1.710 | 1.680 / 1.740 | -0.290 | "
                        "+0.000 ± 0.020 (1/2) | +0.040 ± 0.010 (0/2) | 1.710 | 1.0 |")
    assert lowprec.paired(t, f, higher_better=False)[2:] == (1, 2)
    assert lowprec.main(["char", "--results", str(tmp_path), "--plot-width",
                         str(tmp_path / "w.png"), "--plot-gap", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "w.png").read_bytes()[:4] == (tmp_path / "g.png").read_bytes()[:4] == \
        b"\x89PNG"


def test_accuracy_picks_the_highest_validation_and_compares_over_the_same_seeds(tmp_path):
    recs0 = [_rec("float-lr0.002", 0.90, 0.91, metric="accuracy"),
             _rec("float-lr0.005", 0.95, 0.97, metric="accuracy"),
             _rec("ternary", 0.96, 0.96, 0.99, metric="accuracy"),
             _rec("ternary-hardware", 0.96, 0.96, metric="accuracy", exact=True)]
    _write(tmp_path / "fsdd-lstm32-e30.jsonl", recs0)
    _write(tmp_path / "fsdd-lstm32-e30-seed1.jsonl",
           [_rec("float-lr0.005", 0.93, 0.9, metric="accuracy")])
    rows = {r.series: r for r in lowprec.rows(tmp_path, "fsdd")}
    assert rows["float"].variant == "float-lr0.005" and rows["float"].seeds == 2
    table = lowprec.table(list(rows.values()), percent=True)
    # one seed pairs with float (seed 0: 96.0 against 95.0): no standard error
    assert ("| ternary (`ternary`) | 1 | 99.0 | 96.0 | 96.0 | 96.0 | +3.0 | +1.0 (1/1) |  | "
            "96.0 | 1.0 |") in table
    assert "96.0 (exact) |" in table  # the hardware-mode row
    assert lowprec.main(["fsdd", "--results", str(tmp_path), "--plot",
                         str(tmp_path / "f.png")]) == 0
    assert lowprec.main(["char", "--results", str(tmp_path)]) == 2  # no char records there
