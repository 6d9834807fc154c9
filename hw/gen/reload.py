"""A model's load image for a reloadable design: what `python -m hw load` writes.

The design is the one a manifest describes (its `reload` field: the shape, its fingerprint and
the memories a load writes; the caller has checked the manifest's design hash,
hw.gen.design.check_run). The model is planned in that shape (hw.gen.topplan.TopPlan.in_shape:
the same folding, alphabets, fractions, widths and shifts), and the plan's memory images are
the words to write. A model that does not fit is hw.gen.loadport.ShapeMismatch, one line.
"""

from __future__ import annotations

from ..modelfile import Model
from .loadport import ShapeMismatch
from .manifest import Manifest
from .shape import DesignShape
from .topplan import TopPlan


def plan_in(model: Model, man: Manifest) -> TopPlan:
    """`model` planned in the reloadable design of `man`."""
    if man.reload is None:
        raise ShapeMismatch("the design is fixed (no reload field in its manifest): its weights "
                            "are in its bitstream")
    shape = DesignShape.from_dict(man.reload["shape"])
    if f"{shape.fingerprint:08x}" != man.reload["fingerprint"]:
        raise ShapeMismatch(f"the manifest's shape has fingerprint {shape.fingerprint:08x} "
                            f"here, {man.reload['fingerprint']} when it was written: another "
                            f"shiftrnn version wrote it; regenerate the design")
    try:
        plan = TopPlan.in_shape(model, shape)
    except ShapeMismatch as e:
        raise ShapeMismatch(f"the model does not fit the design's shape: {e}") from None
    except ValueError as e:  # a folding this model cannot take (e.g. a bad emit)
        raise ShapeMismatch(f"the model does not fit the design's shape: {e}") from None
    mems = [{"name": m.name, "width": m.width, "depth": m.depth} for m in plan.load_memories()]
    if mems != man.reload["memories"]:
        raise ShapeMismatch(f"the model's memories {mems} are not the design's "
                            f"{man.reload['memories']}")
    return plan


def load_image(model: Model, man: Manifest) -> tuple[list[tuple[str, int, list[int]]], int]:
    """((name, width, words) of each memory a load writes, the shape fingerprint)."""
    plan = plan_in(model, man)
    return plan.load_image(), plan.shape.fingerprint
