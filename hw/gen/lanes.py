"""The wide-lane engine's plan, as plain Python integers: folding, memory images, widths.

Vocabulary (FINN's MVAU): P *lanes* (PE, rows computed in parallel) each take S columns per
cycle (SIMD), so a code word holds P x S weight codes and a row group of P rows takes
C = ceil(cols_a / S) + ceil(cols_b / S) cycles (each half of a pass, the input matrix's
columns and the hidden matrix's, is padded to whole chunks of S). F shared *finalizers* turn
a group's P sums into results, F rows a cycle, in P / F cycles (the *walk*); a group is issued
every T = max(C, P / F) cycles, so the walk of one group overlaps the next group's sums.

No lane shifts by a per-row amount. Every weight's aligned multiplier (hw.gen.plan) is written
m = t * 2**u, with u one exponent per row half and t a small integer the code alone gives:
t = +-1 for binary, ternary and pow2-ternary, +-2**(K - |c|) for exponential (K the largest
magnitude code), the code itself for intN. A lane accumulates sum t * v per half (A, B), and
the finalizer computes (A << u_a) + (B << u_b) + bias at the pass's fraction F' = F + e, where
e (0 unless exponential rows need it) makes every u non-negative; rounding half up from any
fraction at least as fine as the terms gives the contract's preact(), so F' serves as F does.

A reloadable design's plan is made against its *shape* (hw.gen.shape.LaneShape): the alphabet,
each pass's F', the widths and the finalizers' shifts are the shape's, not the weights', and a
model whose rows do not fit them is refused (hw.gen.loadport.ShapeMismatch).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..numerics import Fixed
from ..reference import width_for
from .loadport import ShapeMismatch
from .plan import Pass, col_formats, signed_bits

ORDERS = ("rows", "columns")


@dataclass(frozen=True)
class RowInfo:
    bias: int  # at the pass's F' (the n row's input-part bias for a split row)
    split_bias: int  # split rows: the hidden part's bias at F'; 0 otherwise
    ua: int
    ub: int
    split: bool


@dataclass(frozen=True)
class PassLayout:
    chunks_a: int
    chunks_b: int
    groups: int
    period: int  # T: cycles between the issue of consecutive groups
    extra: int  # e: fraction bits added to the plan's F
    shift: int  # fraction bits the finalizer drops: F' - out.frac
    out_bits: int
    code_base: int  # first code word
    info_base: int  # first row-info word
    rows: int

    @property
    def chunks(self) -> int:
        return self.chunks_a + self.chunks_b

    def walk_steps(self, g: int, F: int) -> int:
        """Walk steps of group g that hold a real row (the last group may end early)."""
        P = self.lanes_per_group
        return -(-min(P, self.rows - g * P) // F)

    lanes_per_group: int = 1


def _split_half(ms: list[int], multiply: bool, K: int) -> tuple[int, list[int]]:
    """(top exponent or intN base, per-column t) of one row half, before the pass's e."""
    nz = [abs(m) for m in ms if m]
    if multiply:
        base = min(((a & -a).bit_length() - 1 for a in nz), default=0)
        return base, [m >> base for m in ms]
    for a in nz:
        if a & (a - 1):
            raise AssertionError(f"multiplier {a} of a shift scheme is not a power of two")
    top = max((a.bit_length() - 1 for a in nz), default=0)
    ts = []
    for m in ms:
        if m == 0:
            ts.append(0)
            continue
        mag = top - (abs(m).bit_length() - 1) + 1  # the code's magnitude, 1 .. K
        if mag > K:
            raise AssertionError(f"magnitude {mag} beyond the largest code {K}")
        ts.append((1 << (K - mag)) * (1 if m > 0 else -1))
    return top - (K - 1), ts


@dataclass(frozen=True)
class Alphabet:
    """How one set of weights' t values are coded in memory: intN codes are t itself (two's
    complement); a shift scheme's code is the sign above the magnitude K - log2|t| (0: no
    weight); binary (every weight +-1) the sign alone."""

    multiply: bool
    K: int
    binary: bool
    code_bits: int

    @property
    def mag_bits(self) -> int:
        return 0 if self.binary or self.multiply else self.K.bit_length()

    def code(self, t: int) -> int:
        return _code(t, self.multiply, self.K, self.binary, self.code_bits)


def alphabet(ts: list[list[int]], multiply: bool) -> Alphabet:
    """The alphabet of rows of t values (as _split_half gives them, K the largest magnitude
    code over all of them)."""
    flat = [t for row in ts for t in row]
    if multiply:
        return Alphabet(True, 1, False, max([2] + [signed_bits(t) for t in flat]))
    mags = [abs(t).bit_length() for t in flat if t]
    K = max(mags, default=1)
    binary = all(t != 0 for t in flat)
    return Alphabet(False, K, binary, 1 if binary else 1 + K.bit_length())


@dataclass(frozen=True)
class Lookup:
    """A one-hot input's matrix as a table (pass `index`, the first half of its rows): for
    token v and finalizer word u (a walk step of a group, as the row info), the F rows' codes
    of column v. The finalizers read word v * units + u where a lane sum would come from.
    After the vocabulary's columns, one of zeros: where a token outside it reads (the
    contract's zero vector)."""

    index: int  # the pass
    alphabet: Alphabet
    vocab: int
    units: int  # finalizer words of the pass: groups x walk
    words: tuple[int, ...]  # (vocab + 1) x units, F codes each (row f in bits f * code_bits)
    value_bits: int  # the largest |t| as a signed value

    def word_bits(self, finalizers: int) -> int:
        return finalizers * self.alphabet.code_bits


@dataclass(frozen=True)
class LanePlan:
    """Everything the wide-lane engine is built from (hw.gen.engine.WideEngine)."""

    lanes: int
    simd: int
    finalizers: int
    multiply: bool
    K: int  # shift schemes: the largest code magnitude (t = +-2**(K - |c|))
    code_bits: int
    mag_bits: int
    layouts: tuple[PassLayout, ...]
    codes: tuple[int, ...]  # code words, lane 0 / column 0 in the low bits
    info: tuple[RowInfo, ...]  # per row slot: group-major, P slots per group
    acc_bits: int  # a lane's half sums
    sum_bits: int  # the finalizer's aligned sum
    u_bits: int
    res_bits: int
    ua_values: tuple[int, ...]  # the distinct shifts of first halves (the finalizer's select)
    ub_values: tuple[int, ...]
    # 0: the code words are one memory; D (a power of two): banks of D words, every bank read
    # each cycle into its own register, then the bank selected (one more stage; no block
    # RAM output drives a long route or a depth multiplexer in the same cycle)
    bank_depth: int = 0
    # the walk of a pass: "rows" (a group's chunks one after another, then the next group)
    # or "columns" (a chunk of every group, then the next chunk; the code words in that
    # order, and the lanes' sums kept per group in memory)
    order: str = "rows"
    lookup: Lookup | None = None  # a one-hot input's first half, looked up

    @property
    def has_first_halves(self) -> bool:
        """Some pass has two matrices (a first half apart from the second)."""
        return any(lay.chunks_a for lay in self.layouts)

    @property
    def max_groups(self) -> int:
        return max(lay.groups for lay in self.layouts)

    @property
    def code_banks(self) -> int:
        n = max(1, len(self.codes))
        return 1 if not self.bank_depth or n <= self.bank_depth else -(-n // self.bank_depth)

    @property
    def vec_stage(self) -> int:
        """The stage at which the owner delivers a chunk of vector elements: 1 (a memory read
        after the issue), or 2 with code banks (the owner registers its addresses first; the
        elements are still in time for the codes)."""
        return 1 if self.code_banks == 1 else 2

    @property
    def code_stage(self) -> int:
        """The stage at which a lane's code word is registered (issue is stage 0, the
        memory's output stage 1)."""
        return 2 if self.code_banks == 1 else 3

    @property
    def walk(self) -> int:
        return self.lanes // self.finalizers

    @property
    def info_bits(self) -> int:
        """One row's info word: bias, split bias, the two half shifts, the split flag."""
        return 2 * self.sum_bits + 2 * self.u_bits + 1

    @property
    def memory_bits(self) -> int:
        lk = self.lookup
        return (len(self.codes) * self.code_word_bits
                + len(self.info) * self.info_bits
                + (len(lk.words) * lk.word_bits(self.finalizers) if lk else 0))

    @property
    def code_word_bits(self) -> int:
        return self.lanes * self.simd * self.code_bits

    def info_words(self) -> list[int]:
        """The row info memory's words: F rows' info a word (bias, split bias, the two half
        shifts, the split flag, row f in bits f * info_bits)."""
        F, sb, ub = self.finalizers, self.sum_bits, self.u_bits
        words = []
        for i in range(0, len(self.info), F):
            w = 0
            for f, r in enumerate(self.info[i:i + F]):
                lane = ((r.bias & ((1 << sb) - 1)) | ((r.split_bias & ((1 << sb) - 1)) << sb)
                        | (r.ua << 2 * sb) | (r.ub << (2 * sb + ub))
                        | (int(r.split) << (2 * sb + 2 * ub)))
                w |= lane << (f * self.info_bits)
            words.append(w)
        return words

    def memories(self) -> list[tuple[int, int]]:
        """(width, depth) of the engine's memories: the code banks, then the row info (then a
        one-hot input's lookup table)."""
        n, nb = max(1, len(self.codes)), self.code_banks
        D = n if nb == 1 else self.bank_depth
        banks = [(self.code_word_bits, min(D, n - b * D)) for b in range(nb)]
        out = banks + [(self.finalizers * self.info_bits, len(self.info) // self.finalizers)]
        if self.lookup is not None:
            out.append((self.lookup.word_bits(self.finalizers), len(self.lookup.words)))
        return out


def _lane_bits(ts: list[int], fmts: list[Fixed]) -> int:
    hi = sum(abs(t) * max(-f.min, f.max) for t, f in zip(ts, fmts, strict=True))
    return width_for(-hi, hi)


@dataclass(frozen=True)
class RowHalves:
    """What every folding of the same passes shares: the code alphabet and, per row, each
    half's exponent, t values and lane-sum width (computed once for a search); for a one-hot
    input's looked-up half, its own alphabet (`lookup`: the pass and the alphabet)."""

    K: int
    binary: bool
    code_bits: int
    cuts: tuple[int, ...]
    rows: tuple  # per pass, per row: (base_a, t_a, base_b, t_b, bits_a, bits_b)
    lookup: tuple[int, Alphabet] | None = None


def _walked(p: Pass):
    """The column ranges of a pass that the lanes walk."""
    return ((p.split, p.cols),) if p.lookup else ((0, p.split), (p.split, p.cols))


def row_halves(passes: list[Pass], multiply: bool,
               alphabets: tuple[Alphabet, Alphabet | None] | None = None) -> RowHalves:
    """`alphabets`: (the walked halves', the looked-up half's) as a reloadable design's shape
    fixes them, instead of the weights' own."""
    K = 1  # the largest magnitude code (shift schemes) over every walked half
    if alphabets is not None:
        K = alphabets[0].K
    elif not multiply:
        for p in passes:
            for row in p.rows:
                for a, b in _walked(p):
                    nz = [abs(m).bit_length() - 1 for m in row.mults[a:b] if m]
                    if nz:
                        K = max(K, max(nz) - min(nz) + 1)
    binary = not multiply and all(m != 0 for p in passes for r in p.rows
                                  for a, b in _walked(p) for m in r.mults[a:b])
    if alphabets is not None:
        binary = alphabets[0].binary
    # a pass with one matrix (the head) is all "half b": the lanes then never keep a first half
    cuts = tuple(p.split if p.split < p.cols else 0 for p in passes)
    rows, lookup = [], None
    for k, (p, cut) in enumerate(zip(passes, cuts, strict=True)):
        fmts = col_formats(p)
        per = []
        if p.lookup:  # the looked-up half's own alphabet: its K over its own rows
            KL = 1
            if alphabets is not None:
                KL = alphabets[1].K
            elif not p.int_a:
                for r in p.rows:
                    nz = [abs(m).bit_length() - 1 for m in r.mults[:cut] if m]
                    if nz:
                        KL = max(KL, max(nz) - min(nz) + 1)
            looked = [_split_half(list(r.mults[:cut]), p.int_a, KL) for r in p.rows]
            lookup = (k, alphabet([ta for _, ta in looked], p.int_a))
            if alphabets is not None:
                lookup = (k, _within(alphabets[1], lookup[1], f"{p.name}'s looked-up input"))
        for i, r in enumerate(p.rows):
            bb, tb = _split_half(list(r.mults[cut:]), multiply, K)
            if p.lookup:  # one term of the column, not a sum: its own width
                ba, ta = looked[i]
                bits_a = max([2] + [signed_bits(t) for t in ta])
            else:
                ba, ta = _split_half(list(r.mults[:cut]), multiply, K)
                bits_a = _lane_bits(ta, fmts[:cut])
            per.append((ba, ta, bb, tb, bits_a, _lane_bits(tb, fmts[cut:])))
        rows.append(tuple(per))
    if multiply:
        code_bits = max([2] + [signed_bits(t) for p, hp in zip(passes, rows, strict=True)
                               for h in hp for ts in ((h[3],) if p.lookup else (h[1], h[3]))
                               for t in ts])
    else:
        code_bits = 1 if binary else 1 + K.bit_length()
    if alphabets is not None:
        code_bits = _within(alphabets[0], Alphabet(multiply, K, binary, code_bits),
                            "the weights").code_bits
    return RowHalves(K, binary, code_bits, cuts, tuple(rows), lookup)


def _within(shape: Alphabet, need: Alphabet, what: str) -> Alphabet:
    """The shape's alphabet, when it codes every t that `need` does."""
    if need.multiply != shape.multiply or need.code_bits > shape.code_bits:
        raise ShapeMismatch(f"{what} need {need.code_bits}-bit codes"
                            f"{' (multiplied)' if need.multiply else ''}; the shape has "
                            f"{shape.code_bits}-bit{' multiplied' if shape.multiply else ''} "
                            f"codes")
    return shape


def make_lane_plan(passes: list[Pass], *, lanes: int, simd: int, finalizers: int,
                   multiply: bool, image: bool = True,
                   halves: RowHalves | None = None, bank_depth: int = 0,
                   order: str = "rows", shape=None) -> LanePlan:
    """The plan; `image=False` leaves the code words out (`codes` holds zeros, every other
    field is exact) and `halves` (row_halves of the same passes) skips the per-weight work:
    what a search over foldings needs, at a fraction of the time. `bank_depth`, `order`: see
    LanePlan. `shape` (hw.gen.shape.LaneShape, a reloadable design's): the passes are aligned
    to its fractions, and the plan has its alphabet, widths and shifts, or ShapeMismatch."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if bank_depth and (bank_depth < 2 or bank_depth & (bank_depth - 1)):
        raise ValueError(f"bank depth must be 0 or a power of two of at least 2, not "
                         f"{bank_depth}")
    P, S, F = lanes, simd, finalizers
    if shape is not None:
        if [p.frac for p in passes] != list(shape.fracs):
            raise ValueError(f"the passes' fractions {[p.frac for p in passes]} are not the "
                             f"shape's {list(shape.fracs)} (hw.gen.plan.realign)")
        if halves is None:
            halves = row_halves(passes, multiply, shape.alphabets)
    h = row_halves(passes, multiply) if halves is None else halves
    if shape is not None:
        h = _refit(passes, h, multiply, shape)
    K, binary, code_bits, cuts = h.K, h.binary, h.code_bits, h.cuts
    splits = [[((ba, ta), (bb, tb)) for ba, ta, bb, tb, _, _ in hp] for hp in h.rows]
    layouts, words, info = [], [], []
    acc_bits = sum_bits = 2
    u_max = 0
    lookup = None
    for k, (p, cut, halves, widths) in enumerate(zip(passes, cuts, splits, h.rows,
                                                      strict=True)):
        if p.lookup:
            # the looked-up term is t * in_fmt.one = t << in_fmt.frac: the table holds t and
            # the input's fraction joins the half's exponent
            halves = [((ba + p.in_fmt.frac, ta), b) for (ba, ta), b in halves]
        lows = [b for (ba, ta), (bb, tb) in halves for b, t in ((ba, ta), (bb, tb)) if any(t)]
        e = max([0] + [-b for b in lows])
        if shape is not None and e:
            raise ShapeMismatch(f"{p.name} needs a fraction of {p.frac + e} bits, finer than "
                                f"the shape's {p.frac}")
        ca, cb = (0 if p.lookup else -(-cut // S)), -(-(p.cols - cut) // S)
        groups = -(-len(p.rows) // P)
        layouts.append(PassLayout(ca, cb, groups, max(ca + cb, P // F), e, p.shift + e,
                                  p.out.bits, len(words), len(info), len(p.rows),
                                  lanes_per_group=P))
        for i, (row, ((ba, ta), (bb, tb)), wr) in enumerate(zip(p.rows, halves, widths,
                                                                  strict=True)):
            ua, ub = (ba + e if any(ta) else 0), (bb + e if any(tb) else 0)
            if shape is not None:  # the shape's windows; an empty half shifts nothing
                ua = _in_window(ua if any(ta) else None, shape.ua_values, p.name, i, "first")
                ub = _in_window(ub if any(tb) else None, shape.ub_values, p.name, i, "second")
            u_max = max(u_max, ua, ub)
            bias = row.bias << e
            sbias = (row.split_bias << e) if row.split_bias is not None else 0
            info.append(RowInfo(bias, sbias, ua, ub, row.split_bias is not None))
            la, lb = wr[4], wr[5]
            acc_bits = max(acc_bits, lb, 2 if p.lookup else la)
            ma, mb = (1 << (la - 1)) << ua, (1 << (lb - 1)) << ub
            if row.split_bias is None:
                top = ma + mb + abs(bias)
                sum_bits = max(sum_bits, width_for(-top, top))
            else:
                sum_bits = max(sum_bits, width_for(-(ma + abs(bias)), ma + abs(bias)),
                               width_for(-(mb + abs(sbias)), mb + abs(sbias)))
        pad = (0, 0) if shape is None else (shape.ua_values[0], shape.ub_values[0])
        info.extend(RowInfo(0, 0, *pad, False) for _ in range(groups * P - len(p.rows)))
        if p.lookup:
            lookup = _lookup(k, p, cut, [ta for (_, ta), _ in halves], h.lookup[1], P, F,
                             groups, [w[4] for w in widths], image)
        ts = [ta + tb for (_, ta), (_, tb) in halves]
        if not image:
            words.extend([0] * (groups * (ca + cb)))
            continue
        walk = ([(g, j) for g in range(groups) for j in range(ca + cb)] if order == "rows"
                else [(g, j) for j in range(ca + cb) for g in range(groups)])
        for g, j in walk:
            c0, end = (j * S, cut) if j < ca else (cut + (j - ca) * S, p.cols)
            word = 0
            for q in range(P):
                r = g * P + q
                for s in range(S):
                    col = c0 + s
                    t = ts[r][col] if r < len(p.rows) and col < end else 0
                    word |= _code(t, multiply, K, binary, code_bits) << (
                        (q * S + s) * code_bits)
            words.append(word)
    u_bits, res_bits = max(1, u_max.bit_length()), max(p.out.bits for p in passes)
    ua_values, ub_values = tuple(sorted({r.ua for r in info})), tuple(sorted({r.ub for r in info}))
    if shape is not None:
        if acc_bits > shape.acc_bits:
            raise ShapeMismatch(f"lane sums need {acc_bits} bits, the shape has "
                                f"{shape.acc_bits}")
        # the shape's sum_bits are the bias fields' (the finalizers' sums are as wide as their
        # operands)
        big = max(abs(v) for r in info for v in (r.bias, r.split_bias))
        if big >= 1 << (shape.sum_bits - 1):
            raise ShapeMismatch(f"a bias of {big} at F' needs more than the shape's "
                                f"{shape.sum_bits} bits")
        acc_bits, sum_bits, u_bits, res_bits = (shape.acc_bits, shape.sum_bits, shape.u_bits,
                                                shape.res_bits)
        ua_values, ub_values = shape.ua_values, shape.ub_values
        if lookup is not None:
            lookup = dataclasses.replace(lookup, value_bits=shape.lookup_value_bits)
    return LanePlan(P, S, F, multiply, K, code_bits,
                    0 if binary or multiply else K.bit_length(), tuple(layouts), tuple(words),
                    tuple(info), acc_bits, sum_bits, u_bits, res_bits, ua_values, ub_values,
                    bank_depth, order, lookup)


def _refit(passes: list[Pass], h: RowHalves, multiply: bool, shape) -> RowHalves:
    """`h` with each row half's exponent chosen, among those its weights allow, so that its
    shift lands in the shape's window where one does (a weight's t is the same integer
    multiplier at another exponent: an intN half may drop trailing zeros or not, an
    exponential half's codes may sit at other levels); else the first choice, which
    _in_window then refuses."""
    look = shape.alphabets[1]
    rows = []
    for p, cut, hp in zip(passes, h.cuts, h.rows, strict=True):
        fmts = col_formats(p)
        out = []
        for r, (ba, ta, bb, tb, bits_a, _) in zip(p.rows, hp, strict=True):
            if p.lookup:  # the looked-up term is t << in_fmt.frac (make_lane_plan)
                ba, ta = _fit(r.mults[:cut], look.multiply, look.K, look.code_bits,
                              shape.ua_values, p.in_fmt.frac, (ba, ta))
            else:
                ba, ta = _fit(r.mults[:cut], multiply, h.K, h.code_bits, shape.ua_values, 0,
                              (ba, ta))
                bits_a = _lane_bits(ta, fmts[:cut])
            bb, tb = _fit(r.mults[cut:], multiply, h.K, h.code_bits, shape.ub_values, 0,
                          (bb, tb))
            out.append((ba, ta, bb, tb, bits_a, _lane_bits(tb, fmts[cut:])))
        rows.append(tuple(out))
    return dataclasses.replace(h, rows=tuple(rows))


def _fit(ms, multiply: bool, K: int, code_bits: int, window: tuple[int, ...], off: int,
         first: tuple[int, list[int]]) -> tuple[int, list[int]]:
    """(exponent, t values) of one row half with its shift (exponent + off) in `window` if
    any exponent its weights allow gives one (the largest such: the smallest t); else
    `first`."""
    nz = [abs(m) for m in ms if m]
    if not nz:
        return first
    if multiply:  # t = m >> base: exact, and within the code's bits
        lo = max(0, max(a.bit_length() for a in nz) - (code_bits - 1))
        feasible = range(lo, min((a & -a).bit_length() - 1 for a in nz) + 1)
    else:  # |t| = 2**(K - level), level 1..K from the top exponent base + K - 1
        logs = [a.bit_length() - 1 for a in nz]
        feasible = range(max(logs) - (K - 1), min(logs) + 1)
    fits = [b for b in feasible if b + off in window]
    if not fits:
        return first
    base = max(fits)
    if multiply:
        return base, [m >> base for m in ms]
    top = base + K - 1
    return base, [0 if m == 0 else (1 << (K - (top - (abs(m).bit_length() - 1) + 1)))
                  * (1 if m > 0 else -1) for m in ms]


def _in_window(u: int | None, values: tuple[int, ...], name: str, row: int, half: str) -> int:
    """A row half's shift in a shape: one of the finalizer's `values` (a select among at most
    four, or a barrel shifter over all of range(len(values))); None (an empty half): the
    first."""
    if u is None:
        return values[0]
    if u not in values:
        raise ShapeMismatch(f"{name} row {row} needs its {half} half shifted by {u} bits; the "
                            f"shape's finalizers shift it by {values[0]} to {values[-1]} (a row "
                            f"scale {'coarser' if u > values[-1] else 'finer'} than the shape "
                            f"was built for)")
    return u


def _lookup(k: int, p: Pass, cut: int, ta: list[list[int]], alph: Alphabet, P: int, F: int,
            groups: int, bits: list[int], image: bool) -> Lookup:
    """The table of pass k's looked-up half: word v * units + (g * walk + w) holds rows
    g * P + w * F + f (f < F) of column v (LanePlan.lookup)."""
    walk = P // F
    units = groups * walk
    words = [0] * ((cut + 1) * units)  # then a zero column: a token outside the vocabulary
    if image:
        for v in range(cut):
            for u in range(units):
                word = 0
                for f in range(F):
                    r = u * F + f  # = g * P + w * F + f
                    if r < len(ta):
                        word |= alph.code(ta[r][v]) << (f * alph.code_bits)
                words[v * units + u] = word
    return Lookup(k, alph, cut, units, tuple(words), max(bits, default=2))


def _code(t: int, multiply: bool, K: int, binary: bool, bits: int) -> int:
    """A weight's code: intN two's complement; else sign above the magnitude K - log2|t|
    (0 for no weight; binary: the sign alone, every weight nonzero)."""
    if multiply:
        return t & ((1 << bits) - 1)
    neg = int(t < 0)
    if binary:
        return neg
    mag = 0 if t == 0 else K - (abs(t).bit_length() - 1)
    return (neg << K.bit_length()) | mag
