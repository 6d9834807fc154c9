"""The board benches' bookkeeping without the tools: probe records persist and resume
(hw/board/probe.py), a tool failure is not recorded as a measurement, and the capacity
search (bench/capacity.py) finds the boundary within its resolution, never above its cap."""

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
