"""The circuit of `hw.cell.CellParams`: one hidden unit's update as a balanced pipeline.

Every stage holds at most one adder, comparator chain or multiplier (`hw.gen.pipe`): the
activations take four stages each, a gate product one, its rounding one, each sum and each
saturation one. `latency` (published in `__init__` from a dry run of the same description)
is the number of cycles from `pre`/`h`/`c` to `h_new`/`c_new`; a new unit may enter every
cycle. With `pipelined=False` the same description is one combinational path (latency 0).
"""

from __future__ import annotations

from amaranth.hdl import Module, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..cell import CellParams
from .activation import activation
from .arith import saturate_value, shift_round_value
from .pipe import Pipe, Staged


def _round(pipe: Pipe, v: Staged, s: int, name: str) -> Staged:
    """shift_round_value as a stage when it adds (s > 0), as wiring otherwise."""
    if s > 0:
        return pipe.op(lambda x: shift_round_value(x, s), v, name=name)
    return pipe.comb(lambda x: shift_round_value(x, s), v)


def datapath(pipe: Pipe, p: CellParams, pre: list[Staged], h_at, c_at):
    """(h_new, c_new) as staged values (c_new, LSTM only, is ready before h_new). `h_at(s)` and
    `c_at(s)` give the old h and c as values of stage s, the stage where they are first used:
    the owner reads them from memory just in time instead of carrying them down the pipe."""
    fs, fp, fc = p.state, p.preact, p.cell_fmt

    def act(func, x):
        return activation(pipe, func, p.kind, x, fp, fs)

    if p.cell == "rnn":
        return act("tanh", pre[0]), None
    if p.cell == "gru":
        # an add and its saturation share a stage: the saturation is a sign-extension check
        # and a select, not a comparator chain
        r, z = act("sigmoid", pre[0]), act("sigmoid", pre[1])
        rh = _round(pipe, pipe.op(lambda a, b: a * b, r, pre[3], name="rmul"), fs.frac, "rr")
        n_in = pipe.op(lambda a, b: saturate_value(a + b, fp.bits), pre[2], rh, name="nin")
        n = act("tanh", n_in)
        d = pipe.op(lambda a, b: a - b, h_at(n.stage), n, name="hmn")
        zd = _round(pipe, pipe.op(lambda a, b: a * b, z, d, name="zmul"), fs.frac, "zr")
        return pipe.op(lambda a, b: saturate_value(a + b, fs.bits), n, zd, name="hnew"), None
    ig, fg = act("sigmoid", pre[0]), act("sigmoid", pre[1])
    gg, og = act("tanh", pre[2]), act("sigmoid", pre[3])
    fcp = _round(pipe, pipe.op(lambda a, b: a * b, fg, c_at(fg.stage), name="fmul"), fs.frac,
                 "fr")
    igp = _round(pipe, pipe.op(lambda a, b: a * b, ig, gg, name="imul"),
                 2 * fs.frac - fc.frac, "ir")
    c_new = pipe.op(lambda a, b: saturate_value(a + b, fc.bits), fcp, igp, name="cnew")
    sh = fc.frac - fp.frac
    c_in = pipe.op(lambda v: saturate_value(shift_round_value(v, sh), fp.bits), c_new,
                   name="cin")
    tc = act("tanh", c_in)
    h_new = pipe.op(lambda v: saturate_value(v, fs.bits),
                    _round(pipe, pipe.op(lambda a, b: a * b, og, tc, name="omul"), fs.frac,
                           "or"), name="hnew")
    return h_new, c_new


def cell_timing(params: CellParams, pipelined: bool = True) -> tuple[int, int | None,
                                                                      int | None]:
    """(latency, stage where h is used, stage where c is used; None where unused): a dry run
    of `datapath`."""
    used = {}

    def at(name):
        def f(stage):
            used[name] = stage
            return Staged(None, stage)
        return f

    h_new, _ = datapath(Pipe(None, "dry", registered=pipelined), params,
                        [Staged(None, 0)] * params.pre_values, at("h"), at("c"))
    return h_new.stage, used.get("h"), used.get("c")


class CellUnit(wiring.Component):
    """pre (the unit's pre-activations, hw.cell's order), h, c -> h_new, c_new after
    `latency` cycles. `h` is sampled `h_stage` cycles after `pre` (and `c` `c_stage` cycles
    after): where the cell first uses them. `c` and `c_new` exist only for lstm."""

    def __init__(self, *, params: CellParams, pipelined: bool = True):
        if not isinstance(params, CellParams):
            raise TypeError(f"params must be a hw.cell.CellParams, not {type(params).__name__}")
        self.params, self.pipelined = params, pipelined
        self.latency, self.h_stage, self.c_stage = cell_timing(params, pipelined)
        fs, fp, fc = params.state, params.preact, params.cell_fmt
        ports = {
            "pre": In(data.ArrayLayout(signed(fp.bits), params.pre_values)),
            "h": In(signed(fs.bits)),
            "h_new": Out(signed(fs.bits)),
        }
        if params.cell == "lstm":
            ports["c"] = In(signed(fc.bits))
            ports["c_new"] = Out(signed(fc.bits))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipe(m, "cell", registered=self.pipelined)
        p = self.params
        pre = [Staged(self.pre[i], 0) for i in range(p.pre_values)]
        h_new, c_new = datapath(pipe, p, pre, lambda s: Staged(self.h, s),
                                lambda s: Staged(self.c, s))
        assert h_new.stage == self.latency
        m.d.comb += self.h_new.eq(h_new.sig)
        if c_new is not None:
            m.d.comb += self.c_new.eq(pipe.at(c_new, self.latency))
        return m
