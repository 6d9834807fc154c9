"""The testbench's pure-Python parts: expected beats, the checker, the manifest's layouts."""

import json
import re

import numpy as np
import pytest
from amaranth.lib import data

from hw.errors import UserError
from hw.gen.manifest import from_dict, load_manifest, manifest
from hw.gen.simulate import pack_input, unpack_output
from hw.gen.topplan import TopPlan
from hw.random_model import extreme_inputs, random_inputs, random_model
from hw.reference import Reference
from sim.expect import Checker, Item, Mismatch, expected_items


def model_for(emit):
    """The 2-layer LSTM both beat suites use: with a head of 3 unless `emit` is "hidden"."""
    return random_model(cell="lstm", scheme="exponential", input_size=3, hidden_size=4,
                        num_layers=2, emit=emit, seed=11)


def test_unclosed_sequence_sends_no_last():
    model = model_for("every")
    ref = Reference(model)
    x = random_inputs(np.random.default_rng(0), model, (4,))
    cut, = expected_items(ref, [Item("a", x, closed=False)], "every")
    assert cut.last.tolist() == [0, 0, 0, 0]
    none, = expected_items(ref, [Item("a", x, closed=False)], "last")
    assert len(none.data) == 0


def test_extremes_patterns():
    model = model_for("last")
    f = model.formats.input
    hi, lo, alt = extreme_inputs(model, 4)
    assert (hi == f.max).all() and (lo == f.min).all()
    assert alt[0].tolist() == [f.max, f.min, f.max] and alt[1].tolist() == [f.min, f.max, f.min]


def checker_for(emit="every"):
    model = model_for(emit)
    x = random_inputs(np.random.default_rng(2), model, (2, 3))
    items = expected_items(Reference(model), [Item("0", x[0]), Item("1", x[1])], emit)
    return items, Checker(items)


def test_checker_passes_the_reference_and_names_each_unit():
    items, ok = checker_for()
    for it in items:
        for k in range(len(it.data)):
            ok.receive(list(it.data[k]), int(it.argmax[k]), int(it.last[k]))
    assert ok.pending == 0 and ok.mismatches == 0
    for unit, change in (("data[2]", lambda d, a, la: (d[:2] + [d[2] + 1], a, la)),
                         ("argmax", lambda d, a, la: (d, (a + 1) % 3, la)),
                         ("last", lambda d, a, la: (d, a, 1 - la))):
        items, c = checker_for()
        it = items[1]
        for k in range(len(items[0].data)):
            c.receive(list(items[0].data[k]), int(items[0].argmax[k]), int(items[0].last[k]))
        d, a, la = change(list(it.data[0]), int(it.argmax[0]), int(it.last[0]))
        exp = {"data[2]": it.data[0][2], "argmax": it.argmax[0], "last": 0}[unit]
        with pytest.raises(Mismatch, match=re.escape(
                f"sequence 1, step 0, unit {unit}: expected {exp}, got ")):
            c.receive(d, a, la)


def test_checker_extra_and_missing_beats():
    items, c = checker_for("last")
    for it in items:
        c.receive(list(it.data[0]), int(it.argmax[0]), 1)
    with pytest.raises(Mismatch, match="extra output beat"):
        c.receive([0, 0, 0], 0, 1)
    items, c = checker_for("every")
    c.stop_at_first = False
    c.receive(list(items[0].data[0]), int(items[0].argmax[0]), 0)
    c.missing()
    assert c.mismatches == 5 and c.first.startswith("sequence 0, step 1: 5 expected")


def test_checker_cut_keeps_what_came():
    items, c = checker_for("every")
    c.receive(list(items[0].data[0]), int(items[0].argmax[0]), 0)
    c.cut(0)
    assert c.where() == (1, 0) and c.pending == 3


@pytest.mark.parametrize("emit", ["hidden", "last"])
def test_layout_packs_as_the_generator(emit):
    model = model_for(emit)
    top = TopPlan.of(model, parallel=8)
    man = from_dict(json.loads(json.dumps(manifest(top).as_dict())))
    rng = np.random.default_rng(3)
    # the manifest's layouts (as written and read back) against Amaranth's own packing of the
    # top's stream layouts, which the circuit and hw.gen.simulate use
    for x in list(random_inputs(rng, model, (5,))) + list(extreme_inputs(model, 1)[:, 0]):
        for first, last in ((0, 0), (1, 0), (0, 1), (1, 1)):
            want = top.in_layout.const({"data": [int(v) for v in x], "first": first,
                                        "last": last}).as_value().value
            assert man.input.pack(data=x, first=first, last=last) == want
            assert pack_input(top, x, bool(first), bool(last)) == want
    for _ in range(20):
        word = int(rng.integers(0, 1 << 62)) | (int(rng.integers(0, 1 << 62)) << 62)
        word &= (1 << man.output.width) - 1
        c, f = data.Const(top.out_layout, word), man.output.unpack(word)
        want = ([c.data[k] for k in range(top.out_count)],
                c.argmax if emit != "hidden" else None, c.last)
        assert (f["data"], f.get("argmax"), f["last"]) == want
        beat = unpack_output(top, word)
        assert (list(beat.data), beat.argmax, beat.last) == want


def test_manifest_errors_name_the_field(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_manifest(tmp_path / "manifest.json")
    good = manifest(TopPlan.of(model_for("last"), parallel=4)).as_dict()
    bad = json.loads(json.dumps(good))
    del bad["input"]["fields"]["first"]
    with pytest.raises(UserError, match="input.fields.first is missing"):
        from_dict(bad)
    bad = json.loads(json.dumps(good))
    bad["output"]["fields"]["data"]["count"] = 99
    with pytest.raises(UserError, match="output.fields.data does not fit"):
        from_dict(bad)
