"""What a trial's record says about its design: its quality (the test metric) and its
speed. The one home of both, for the report, the equal-accuracy tables and `recommend`."""

from __future__ import annotations

LOWER_IS_BETTER = {"bpc"}  # metrics where less is better; accuracy: more is better


def quality(rec: dict) -> float | None:
    t = rec.get("figures", {}).get("train", {})
    return t.get("integer")


def steps_per_s(rec: dict) -> tuple[float | None, bool]:
    """(steps per second, whether it comes from a built bitstream's clock)."""
    f = rec.get("figures", {})
    if f.get("bitstream", {}).get("steps_per_s"):
        return f["bitstream"]["steps_per_s"], True
    cycles = f.get("verilog", {}).get("cycles_per_step")
    if not cycles:
        return None, False
    from hw.board.registry import BOARDS

    board = BOARDS.get(rec["config"].get("board"))
    return (round(board.osc_hz / cycles, 1) if board else None), False
