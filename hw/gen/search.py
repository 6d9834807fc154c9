"""`--parallel auto`: the search `TopPlan.auto` runs over foldings (hw.gen.topplan).

Every P (whole units' rows, about 3 % apart past 64 units) and S (a power of two), each walk,
counted by hw.gen.fit's `estimate` on a device: the fitting design with the most steps per
second (or, `goal` "smallest", the fewest LUTs), a design that keeps its memories in block RAM
preferred while it reaches FIXED_SHARE of the fastest's steps per second, and for a model
whose head alone multiplies the smallest head engine that keeps up (`_head_for`). The plan
class comes in as `cls` (this module does not import hw.gen.topplan, which imports it).
"""

from __future__ import annotations

from ..cell import UNIT_ROWS
from .fit import estimate, fits, over
from .lanes import ORDERS, row_halves
from .options import AUTO
from .plan import ELEMENTWISE, head_engine, make_passes, uses_multipliers


def auto(cls, model, device, *, storage: str, order: str, placement, head, image: bool,
         goal: str, reloadable: bool, output: str):
    """TopPlan.auto's search (its docstring says what it finds)."""
    if output == "serial":
        raise ValueError("output serial takes a given folding; the search streams a wide "
                         "head's outputs where the readout fits (output auto)")
    if goal not in GOALS:
        raise ValueError(f"goal must be one of {', '.join(GOALS)}, not {goal!r}")
    G = len(UNIT_ROWS[model.cell])
    passes = make_passes(model)
    L = model.num_layers
    own = head_engine(passes, L)
    if own:
        halves = (row_halves(passes[:L], False), row_halves(passes[L:], True))
    else:
        halves = row_halves(passes, uses_multipliers(passes))
    on_lanes = passes[:L] if own else passes
    rows = max(len(p.rows) for p in on_lanes)
    widest = max(max(p.cols - p.split, 0 if p.lookup else p.split) for p in on_lanes)
    best = fixed = smallest = None  # fixed: the best with no memory in SPRAM
    for k in _steps(-(-rows // G)):
        S = 1
        while S <= 1 << (widest - 1).bit_length():
            for o in ORDERS:
                if own:
                    tp = _head_for(cls, model, device, storage, passes, halves, G, k, S, o,
                                   output)
                else:
                    tp = cls.of(model, parallel=k * G, simd=S, storage=storage,
                                passes=passes, image=False, halves=halves,
                                placement=device.placement, order=o, output=output)
                placed = tp.on(device)
                fo = estimate(placed, device, reloadable=reloadable)
                if (reloadable or placed.huge_memories) and fits(fo, device):
                    # what is built: the reloadable design (its shape's selects and sums,
                    # never fewer than the model's own: a design over already is skipped)
                    hd = placed.head_lanes
                    placed = cls.of(model, parallel=placed.parallel, simd=placed.simd,
                                    storage=storage, passes=passes, image=False,
                                    placement=placed.placement, order=o,
                                    head=None if hd is None else (hd.lanes, hd.simd),
                                    reloadable=True, output=output)
                    fo = estimate(placed, device)
                smallest = smallest or fo
                if fits(fo, device):
                    best = _better(best, fo, goal)
                    if not fo.huge_blocks:
                        fixed = _better(fixed, fo, goal)
                if o == "rows":
                    f = fo
                    if tp.cycles_per_step <= 1.02 * tp.bound_cycles:
                        break  # within 2 % of the bound: the columns walk cannot gain
            if f.luts > device.lut_room(model.cell):
                break  # more columns only cost more logic (the estimate grows with S)
            S *= 2
    if best is None:
        raise ValueError(f"no folding of this {model.cell} {model.hidden_size} fits the "
                         f"{device.name}: the smallest ({smallest.parallel} lanes x "
                         f"{smallest.simd} column) needs about "
                         f"{' and '.join(over(smallest, device))} (estimated)")
    if fixed is not None and (goal == "smallest"
                              or fixed.steps_per_s >= FIXED_SHARE * best.steps_per_s):
        best = fixed

    def design(reloadable: bool):
        return cls.of(model, parallel=best.parallel, simd=best.simd, storage=storage,
                      passes=passes, image=image,
                      placement=device.placement if placement is None else placement,
                      order=best.order if order == AUTO else order,
                      head=best.head if head is None else head,
                      reloadable=reloadable, output=output).on(device)

    tp = design(reloadable)
    if tp.huge_memories and tp.shape is None:
        # SPRAM has no initial contents: a design with memories there computes only what
        # a load wrote, so it is built reloadable (hw.gen.cli notes it; docs/hardware.md)
        tp = design(True)
    return tp


# `--parallel auto` keeps every weight in block RAM (initialised by the bitstream) unless a
# design with SPRAM is faster than this share: SPRAM has no initial contents, so such a
# design must be loaded (hw load) after each power-up before it computes anything
FIXED_SHARE = 0.9


GOALS = ("fastest", "smallest")


def _better(best, f, goal: str):
    """The better of two hw.gen.fit.Fit for `goal`: more steps per second (then fewer LUTs),
    or fewer LUTs (then more steps per second)."""
    def key(x):
        return (x.steps_per_s, -x.luts) if goal == "fastest" else (-x.luts, x.steps_per_s)
    return f if best is None or key(f) > key(best) else best


def _steps(limit: int) -> list[int]:
    """1..64, then about 3 % apart up to `limit`: fine where the block RAM packing changes."""
    ks, k = list(range(1, min(64, limit) + 1)), 64.0
    while k < limit:
        k *= 1.03
        ks.append(min(limit, round(k)))
    return sorted(set(ks))


def _head_for(cls, model, device, storage, passes, halves, G, k, S, order,
              output: str = AUTO):
    """For a layer folding, the smallest head engine (fewest multipliers) with which a step
    takes the fewest cycles: the head beside the layers costs nothing once its period is
    within the layers' time; no more multipliers than the DSP blocks left."""
    rows, cols = len(passes[-1].rows), passes[-1].cols
    # whole units' rows, and below one unit's rows fewer lanes with fewer finalizers
    # (head_finalizers): a head that runs beside slow layers needs few multipliers
    lanes = {kh * G for kh in _steps(-(-rows // G))} | set(range(1, min(G, rows + 1)))
    cands = sorted({(lh, Sh) for lh in lanes
                    for Sh in (1 << i for i in range(S.bit_length())) if Sh <= S},
                   key=lambda c: (c[0] * c[1], c[1]))
    budget = max(G, device.dsps - ELEMENTWISE[model.cell])

    def plan(head):
        return cls.of(model, parallel=k * G, simd=S, storage=storage, passes=passes,
                          image=False, halves=halves, placement=device.placement, order=order,
                          head=head, output=output)

    def issue(head):  # the head pass's issue cycles on that engine
        return -(-rows // head[0]) * -(-cols // head[1])

    # the smallest head's exact plan gives the head path's fixed cycles (its pipeline, the
    # argmax, the output beat) and the layers' time; then jump to the first head whose issue
    # fits in what is left, and step up from there while it still pays
    best = first = plan(cands[0])
    tl = first.timeline
    room = 2 + tl.layer_cycles - (tl.head_period - issue(cands[0]))
    start = next((i for i, c in enumerate(cands) if issue(c) <= room or c[0] * c[1] >= budget),
                 len(cands) - 1)
    for head in cands[start:]:
        if head[0] * head[1] > budget:
            break
        tp = plan(head)
        if tp.cycles_per_step < best.cycles_per_step:
            best = tp
        if tp.cycles_per_step <= 2 + tp.timeline.layer_cycles:
            break  # the layers set the pace: more multipliers buy nothing
    return best
