"""Model file: round trips, and a specific error for each kind of malformed file."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hw import modelfile
from hw.modelfile import ModelError
from hw.random_model import random_model

ROOT = Path(__file__).resolve().parents[1]


def good() -> dict:
    return random_model(cell="gru", scheme="ternary", input_size=3, hidden_size=4,
                        num_layers=2, outputs=2, seed=3).as_dict()


def test_round_trip_keeps_every_field(tmp_path):
    for cell in ("rnn", "gru", "lstm"):
        for scheme in ("binary", "ternary", "pow2-ternary", "exponential", "int4", "int8"):
            m = random_model(cell=cell, scheme=scheme, num_layers=2, seed=1)
            modelfile.save(m, tmp_path / "m.json")
            assert modelfile.load(tmp_path / "m.json").as_dict() == m.as_dict()


def _set(d, path, value):
    *head, last = path
    for k in head:
        d = d[k]
    if value is DELETE:
        del d[last]
    else:
        d[last] = value


DELETE = object()

MALFORMED = [
    # (what, path, value, message fragment)
    ("wrong version", ["version"], 7, "version is 7"),
    ("wrong format tag", ["format"], "onnx", "format is 'onnx'"),
    ("missing field", ["hidden_size"], DELETE, "hidden_size is missing"),
    ("negative size", ["hidden_size"], -4, "hidden_size must be from 1 to 4096, not -4"),
    ("unknown cell", ["cell"], "transformer", "cell is 'transformer'"),
    ("unknown activation", ["activation"], "relu", "activation is 'relu'"),
    ("code out of range", ["layers", 0, "w_ih", "codes", 1, 2], 2,
     "layers[0].w_ih.codes[1][2] is 2, out of range for ternary"),
    ("shape mismatch", ["layers", 1, "w_hh", "codes"], [[0] * 4] * 11,
     "layers[1].w_hh.codes has shape (11, 4), expected (12, 4)"),
    ("non-integer scale exponent", ["layers", 0, "w_hh", "scale", 0], 0.5,
     "layers[0].w_hh.scale holds 0.5, not an integer"),
    ("per-row scale on ternary", ["layers", 0, "w_hh", "scale", 3], 5,
     "layers[0].w_hh.scale[3] is 5 but ternary has one scale per matrix"),
    ("unknown scheme", ["layers", 0, "w_ih", "scheme"], "int99", "scheme is 'int99'"),
    ("bias outside its format", ["layers", 0, "b_ih", 0], 1 << 20,
     "layers[0].b_ih[0] is 1048576, outside its 12-bit format"),
    ("layer count mismatch", ["num_layers"], 3, "layers has 2 entries, expected num_layers = 3"),
    ("state format cannot hold 1.0", ["formats", "state", "frac"], 9,
     "formats.state.frac is 9; it must be at most bits - 2"),
    ("missing format", ["formats", "cell"], DELETE, "formats.cell is missing"),
    ("boolean as size", ["input_size"], True, "input_size must be an integer, not True"),
    ("ragged codes", ["layers", 0, "w_ih", "codes", 0], [1], "layers[0].w_ih.codes"),
    ("head bias wrong length", ["head", "bias"], [0], "head.bias has shape (1,), expected (2,)"),
    ("input transform wrong length", ["input_transform"], {"offset": [0.0], "scale": [1.0]},
     "input_transform.offset must be a list of 3 numbers"),
]


@pytest.mark.parametrize("what,path,value,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_is_rejected_with_a_specific_message(tmp_path, what, path, value, message):
    d = copy.deepcopy(good())
    _set(d, path, value)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ModelError) as e:
        modelfile.load(p)
    assert message in str(e.value)


def test_bad_json_and_missing_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"format": "shiftrnn-model",')
    with pytest.raises(ModelError, match="is not valid JSON"):
        modelfile.load(p)
    with pytest.raises(ModelError, match="cannot read model file"):
        modelfile.load(tmp_path / "nothing.json")
    p.write_text("[1, 2]")
    with pytest.raises(ModelError, match="must hold a JSON object, not list"):
        modelfile.load(p)


def test_exponential_needs_levels(tmp_path):
    d = random_model(scheme="exponential", seed=2).as_dict()
    del d["layers"][0]["w_ih"]["levels"]
    with pytest.raises(ModelError, match=r"layers\[0\].w_ih.levels is missing"):
        modelfile.from_dict(d)


def test_save_is_atomic_and_never_writes_a_rejected_model(tmp_path):
    m = random_model(seed=4)
    p = tmp_path / "model.json"
    modelfile.save(m, p)
    before = p.read_text()
    m.layers[0].w_ih.codes[0, 0] = 5  # illegal for ternary
    with pytest.raises(ModelError):
        modelfile.save(m, p)
    assert p.read_text() == before
    assert [f.name for f in tmp_path.iterdir()] == ["model.json"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "hw", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_check_prints_the_summary(tmp_path):
    m = random_model(cell="lstm", scheme="exponential", input_size=3, hidden_size=4,
                     outputs=2, seed=5)
    modelfile.save(m, tmp_path / "model.json")
    r = run_cli("check", str(tmp_path / "model.json"))
    assert r.returncode == 0, r.stderr
    count = sum(mm.codes.size for _, mm in m.matrices())
    nonzero = sum(int((mm.codes != 0).sum()) for _, mm in m.matrices())
    assert "cell        lstm, 1 layer(s), input 3, hidden 4" in r.stdout
    assert f"weights     {count} ({nonzero} nonzero), {count * 3} bits of weight memory" in r.stdout
    assert "accumulator layer 0: input" in r.stdout


def test_check_on_a_bad_file_exits_2_with_one_line(tmp_path):
    d = good()
    d["cell"] = "lstmm"
    (tmp_path / "bad.json").write_text(json.dumps(d))
    r = run_cli("check", str(tmp_path / "bad.json"))
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: cell is 'lstmm'")


def test_quantize_input_uses_the_stored_transform():
    m = random_model(input_size=2, seed=6)
    m.input_offset, m.input_scale = np.array([1.0, -1.0]), np.array([0.5, 2.0])
    got = m.quantize_input([[3.0, -1.0]])
    f = m.formats.input
    assert got.tolist() == [[f.quantize(1.0).item(), 0]]


def test_check_on_a_binary_file_exits_2_with_one_line(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    r = run_cli("check", str(tmp_path / "model.bin"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"error: {tmp_path / 'model.bin'} is not a model file: byte 0 is not " \
                       f"UTF-8 text (a binary file?)\n"


def test_check_refuses_an_emit_that_verilog_would_refuse(tmp_path):
    d = good()
    d["meta"]["emit"] = "never"
    (tmp_path / "emit.json").write_text(json.dumps(d))
    r = run_cli("check", str(tmp_path / "emit.json"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "error: meta.emit is 'never'; a model with a head emits 'last' or " \
                       "'every'\n"
    d["meta"]["emit"] = "every"  # a language model's head
    (tmp_path / "emit.json").write_text(json.dumps(d))
    assert run_cli("check", str(tmp_path / "emit.json")).returncode == 0


def test_emit_and_metric_are_typed_fields_stored_in_meta(tmp_path):
    """Files keep meta.emit and meta.metric (older files load unchanged, fingerprints do not
    move); in memory they are Model.emit and Model.metric, and Model.emits is the one rule."""
    m = random_model(seed=4, outputs=3)
    assert (m.emit, m.metric, m.emits, m.metric_name) == (None, None, "last", "accuracy")
    assert "emit" not in m.as_dict()["meta"] and "metric" not in m.as_dict()["meta"]
    m.emit, m.metric = "every", "bpc"
    d = m.as_dict()
    assert d["meta"]["emit"] == "every" and d["meta"]["metric"] == "bpc"
    modelfile.save(m, tmp_path / "m.json")
    back = modelfile.load(tmp_path / "m.json")
    assert (back.emit, back.metric, back.emits, back.metric_name) == ("every", "bpc", "every",
                                                                      "bpc")
    assert "emit" not in back.meta and back.as_dict() == d
    m.head = None
    assert m.emits == "hidden"


def test_emit_or_metric_left_in_meta_is_refused_and_a_bad_metric_named():
    m = random_model(seed=4, outputs=3)
    m.meta["emit"] = "every"  # the old way: would be silently ignored
    with pytest.raises(ValueError, match="Model.emit and Model.metric, not meta keys"):
        _ = m.emits
    d = random_model(seed=4, outputs=3).as_dict()
    d["meta"]["metric"] = "f1"
    with pytest.raises(ModelError, match="meta.metric is 'f1', not one of accuracy, bpc"):
        modelfile.from_dict(d)
