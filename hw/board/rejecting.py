"""Constructors that reject their arguments leave no "created but never used" warning.

Amaranth warns (`UnusedElaboratable`) about every Elaboratable that is garbage-collected without
being elaborated. A constructor that raises leaves such an object behind, and the components it
was handed, which nobody can elaborate any more: `rejecting(self, core)` around the checks
marks them (Amaranth's own flag) so that the error is all the user sees.
"""

from contextlib import contextmanager

from amaranth.hdl import Elaboratable


@contextmanager
def rejecting(*objs):
    try:
        yield
    except Exception:
        for obj in objs:
            if isinstance(obj, Elaboratable):
                obj._MustUse__silence = True
        raise
