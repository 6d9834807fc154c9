"""hw/gen/manifest.py: the typed manifest written and read back, and its one-line errors."""

import json
import re

import pytest

from hw.errors import UserError
from hw.gen.cli import generate
from hw.gen.manifest import Manifest, from_dict, load_manifest, manifest, save_manifest
from hw.gen.topplan import TopPlan
from hw.random_model import random_model


@pytest.fixture(scope="module")
def man() -> Manifest:
    model = random_model(cell="gru", input_size=3, hidden_size=4, outputs=2, seed=3)
    return generate(model, "auto", board="icebreaker")[1]


def test_written_and_read_back_equal(man, tmp_path):
    save_manifest(man, tmp_path / "manifest.json")
    back = load_manifest(tmp_path / "manifest.json")
    assert back == man
    assert json.loads((tmp_path / "manifest.json").read_text()) == man.as_dict()
    assert man.roofline is not None and man.board_device == "iCE40UP5K"
    assert (man.cell, man.input_size, man.hidden_size, man.num_layers) == ("gru", 3, 4, 1)
    assert man.input.unpack(man.input.pack(data=[1, -2, 3], first=1, last=0)) == \
        {"data": [1, -2, 3], "first": 1, "last": 0}


def test_unknown_keys_travel_through(man):
    d = man.as_dict() | {"memory_placement": {"w_ih": "bram"}}
    back = from_dict(d)
    assert back.extra == {"memory_placement": {"w_ih": "bram"}} and back.as_dict() == d


@pytest.mark.parametrize("content,message", [
    ("[1, 2]", "holds list without top, emit, input or output: not a shiftrnn manifest"),
    ('{"name": "x", "version": 2}', "holds an object without top, emit, input or output"),
    ("{", "is not a readable JSON file"),
])
def test_foreign_or_broken_files_are_one_line(tmp_path, content, message):
    p = tmp_path / "manifest.json"
    p.write_text(content)
    with pytest.raises(UserError, match=message) as e:
        load_manifest(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value)


@pytest.mark.parametrize("key,value,message", [
    ("parallel", 0, "parallel must be a positive integer or 'unrolled', not 0"),
    ("simd", "2", "simd must be a non-negative integer, not '2'"),
    ("resources", [], "resources must be an object"),
    ("emit", "sometimes", "emit is 'sometimes'"),
    ("latency", -1, "latency must be a non-negative integer"),
    ("order", "diagonal", "order is 'diagonal', not rows or columns"),
])
def test_bad_fields_are_named(man, tmp_path, key, value, message):
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(man.as_dict() | {key: value}))
    with pytest.raises(UserError, match=f"{re.escape(str(p))}: {message}"):
        load_manifest(p)


def test_a_plan_gives_the_manifest_of_the_top_built_from_it():
    """manifest(TopPlan) (nothing built) is the manifest generate() writes for the ModelTop
    built from that plan, field for field."""
    model = random_model(cell="lstm", input_size=3, hidden_size=5, num_layers=2, outputs=3,
                         seed=4, emit="every")
    for order in ("rows", "columns"):
        _, built = generate(model, 8, simd=2, order=order)
        assert built.order == order
        assert manifest(TopPlan.of(model, parallel=8, simd=2, order=order)) == built
