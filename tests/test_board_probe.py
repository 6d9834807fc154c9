"""The board benches' bookkeeping without the tools: probe records persist and resume
(hw/board/probe.py), a tool failure is not recorded as a measurement, and the capacity
search (bench/capacity.py) finds the boundary within its resolution, never above its cap."""

import time

import pytest

from bench import capacity
from hw.board import probe as probe_mod
from hw.errors import UserError
from hw.random_model import random_model


def test_records_persist_and_find(tmp_path):
    path = tmp_path / "r.json"
    r = probe_mod.Records(path)
    r.add({"cell": "gru", "hidden": 16, "ok": True})
    r.add({"cell": "gru", "hidden": 32, "ok": False})
    again = probe_mod.Records(path)
    assert again.find({"cell": "gru", "hidden": 32}) == {"cell": "gru", "hidden": 32,
                                                          "ok": False}
    assert again.find({"cell": "lstm"}) is None


@pytest.mark.parametrize("boundary,start,limit,res", [
    (40, 16, 1024, 8), (40, 16, 1024, 16), (5, 16, 64, 8), (100, 16, 64, 8), (16, 16, 64, 8),
    (23, 16, 64, 8), (0, 16, 64, 8), (300, 16, 256, 16)])
def test_capacity_search_finds_the_boundary(boundary, start, limit, res, tmp_path):
    tried = []

    def measure(h):
        tried.append(h)
        return {"ok": h <= boundary, "fits": h <= boundary}

    records = probe_mod.Records(tmp_path / "r.json")
    good, bad = capacity.search(records, {"cell": "gru"}, start=start, limit=limit,
                           resolution=res, measure=measure)
    assert max(tried) <= limit and len(tried) == len(set(tried))
    if good is not None:
        assert good["hidden"] <= boundary
    if bad is not None:
        assert bad["hidden"] > boundary
    if good is not None and bad is not None:
        assert bad["hidden"] - good["hidden"] <= res
    if boundary >= limit:
        assert bad is None and good["hidden"] == limit  # the cap, not the board, limited
    # a rerun measures nothing new
    n = len(tried)
    assert capacity.search(records, {"cell": "gru"}, start=start, limit=limit, resolution=res,
                      measure=measure) == (good, bad)
    assert len(tried) == n


def test_probe_records_a_misfit_but_not_a_tool_failure(monkeypatch):
    model = random_model(input_size=3, hidden_size=4)

    def no_fit(*a, **k):
        raise UserError("the design does not fit the iCEBreaker: it needs 9999 ICESTORM_LC")

    monkeypatch.setattr(probe_mod, "build", no_fit)
    rec = probe_mod.probe(model, board="icebreaker", parallel=3, clock_mhz=12.0,
                          progress=lambda s: None)
    assert rec["fits"] is False and rec["ok"] is False and "9999" in rec["error"]

    def broken(*a, **k):
        raise UserError("the icebreaker build failed: yosys crashed")

    monkeypatch.setattr(probe_mod, "build", broken)
    with pytest.raises(UserError, match="yosys crashed"):
        probe_mod.probe(model, board="icebreaker", parallel=3, clock_mhz=12.0,
                        progress=lambda s: None)


@pytest.mark.parametrize("boundary,limit,res", [(40, 1024, 8), (352, 512, 8), (7, 64, 8),
                                                (2000, 1024, 8), (64, 64, 16)])
def test_capacity_starts_at_the_fits_largest(boundary, limit, res):
    """fit_limit: the largest multiple of the resolution the fit accepts (bisected)."""
    asked = []

    def fits(h):
        asked.append(h)
        return h <= boundary

    got = capacity.fit_limit(fits, limit=limit, resolution=res)
    assert got % res == 0 and got <= limit
    assert got == max(res, min(boundary, limit) // res * res)
    assert len(asked) <= 2 + (limit // res).bit_length()


def test_a_probe_past_its_time_limit_stops_its_build_and_is_a_failure(monkeypatch):
    """The build reports progress while its tools run; past `limit_s` the report raises, the
    build's own clean-up runs (here: `stopped`), and the record is a timed-out failure."""
    model = random_model(input_size=3, hidden_size=4)
    stopped = []

    def slow(*a, progress, **k):
        try:
            for _ in range(1000):
                progress("... routing")
                time.sleep(0.01)
        finally:
            stopped.append(True)
        raise AssertionError("the time limit did not stop the build")

    monkeypatch.setattr(probe_mod, "build", slow)
    rec = probe_mod.probe(model, board="ulx3s", parallel=3, clock_mhz=25.0, limit_s=0.2,
                          progress=lambda s: None)
    assert stopped == [True]
    assert rec["timed_out"] is True and rec["limit_s"] == 0.2 and rec["ok"] is False
    assert rec["error"] == "not placed and routed within 0.00333333 minutes"
    assert 0.2 <= rec["seconds"] < 5
    assert capacity.why(rec).startswith("not routed in 0.00333")


def test_the_search_measures_again_a_probe_that_ran_out_of_a_shorter_limit(tmp_path):
    records = probe_mod.Records(tmp_path / "r.json")
    records.add({"cell": "gru", "hidden": 32, "ok": False, "fits": True, "timed_out": True,
                 "limit_s": 600.0})
    tried = []

    def measure(h):
        tried.append(h)
        return {"ok": True, "fits": True}

    # the same limit: the kept failure stands, the search steps down
    good, bad = capacity.search(records, {"cell": "gru"}, start=32, limit=32, resolution=16,
                                measure=measure, limit_s=600.0)
    assert tried == [16] and bad["timed_out"] and good["hidden"] == 16
    # a longer limit (or none) measures it again and replaces the record
    good, bad = capacity.search(records, {"cell": "gru"}, start=32, limit=32, resolution=16,
                                measure=measure, limit_s=1200.0)
    assert tried == [16, 32] and good["hidden"] == 32 and bad is None
    assert [r["hidden"] for r in probe_mod.Records(tmp_path / "r.json").items] == [16, 32]


def test_the_ecp5_keeps_block_ram_headroom():
    """The ULX3S's designs may use 97.5 % of its 208 DP16KD as the fit counts them (202, the
    UART FIFOs' two among them): between the builds in docs/boards.md that routed and those
    that did not."""
    from hw.board.registry import BOARDS
    from hw.gen.fit import Fit, over
    dev = BOARDS["ulx3s"].device
    assert dev.brams_for_design == 200
    at = Fit(parallel=1, simd=1, cycles_per_step=1, luts=1000, brams=200, steps_per_s=1.0)
    assert over(at, dev) == []
    assert over(Fit(parallel=1, simd=1, cycles_per_step=1, luts=1000, brams=201,
                    steps_per_s=1.0), dev) == ["201 block RAMs of 200"]
    assert BOARDS["icebreaker"].device.brams_for_design == 28
