"""`python -m hw verilog --ports axis`: the AXI-Stream-style port names in top.v and in the
manifest, the payload split over ports that cover it, and nothing else changed."""

from __future__ import annotations

import json
import re

import pytest

from hw.__main__ import main as hw_main
from hw.gen.cli import generate
from hw.gen.manifest import from_dict, verilog_ports
from hw.modelfile import save
from hw.random_model import random_model

AXIS_PORTS = {"aclk", "aresetn", "s_axis_tdata", "s_axis_tuser", "s_axis_tlast",
              "s_axis_tvalid", "s_axis_tready", "m_axis_tdata", "m_axis_tlast",
              "m_axis_tvalid", "m_axis_tready"}


def _width(text: str, direction: str, port: str) -> int:
    m = re.search(rf"\b{direction}\s+(?:\[(\d+):0\]\s+)?{port}\s*;", text)
    assert m, f"no {direction} {port} in top.v"
    return int(m.group(1)) + 1 if m.group(1) else 1


@pytest.mark.parametrize("parallel,emit", [("3", "last"), ("unrolled", "every"),
                                           ("4", "hidden")])
def test_axis_names_in_verilog_and_manifest(tmp_path, parallel, emit, capsys):
    model = random_model(cell="lstm" if parallel == "4" else "gru", input_size=3,
                         hidden_size=4, outputs=None if emit == "hidden" else 3, seed=5)
    model.emit = emit
    save(model, tmp_path / "model.json")
    for ports in ("native", "axis"):
        assert hw_main(["verilog", str(tmp_path / "model.json"), "--parallel", parallel,
                        "--ports", ports, "--out", str(tmp_path / ports)]) == 0
    text = (tmp_path / "axis" / "top.v").read_text()
    man = json.loads((tmp_path / "axis" / "manifest.json").read_text())
    native = json.loads((tmp_path / "native" / "manifest.json").read_text())
    assert verilog_ports(text) == AXIS_PORTS
    assert (man["ports"], man["clock"], man["reset"], man["reset_active_low"]) == \
        ("axis", "aclk", "aresetn", True)
    assert native["ports"] == "native" and native["reset_active_low"] is False
    i, o = man["input"], man["output"]
    data_w = i["fields"]["data"]["count"] * i["fields"]["data"]["width"]
    assert i["payload_ports"] == [
        {"port": "s_axis_tdata", "offset": 0, "width": data_w},
        {"port": "s_axis_tuser", "offset": data_w, "width": 1},
        {"port": "s_axis_tlast", "offset": data_w + 1, "width": 1}]
    assert o["payload_ports"] == [
        {"port": "m_axis_tdata", "offset": 0, "width": o["payload_width"] - 1},
        {"port": "m_axis_tlast", "offset": o["payload_width"] - 1, "width": 1}]
    for side in ("input", "output"):
        for p in man[side]["payload_ports"]:
            direction = "input" if side == "input" else "output"
            assert _width(text, direction, p["port"]) == p["width"], p
    # the fields, widths, timing and resources are the native core's
    # (the options asked, top.v's hash and so the design hash differ with the port style)
    strip = {"ports", "clock", "reset", "reset_active_low", "input", "output", "options",
             "top_v_sha256", "design_hash"}
    assert {k: v for k, v in man.items() if k not in strip} == \
        {k: v for k, v in native.items() if k not in strip}
    for side in ("input", "output"):
        assert man[side]["fields"] == native[side]["fields"]
        assert man[side]["payload_width"] == native[side]["payload_width"]
    # hw.gen.manifest reads it: pack/split/join round trip through the ports
    lay = from_dict(man).input
    word = lay.pack(data=[-1, 2, -3], first=1, last=0)
    assert lay.split(word) == [word & ((1 << data_w) - 1), 1, 0]
    assert lay.join(lay.split(word)) == word


def test_bad_payload_ports_in_a_manifest_are_named():
    man = generate(random_model(input_size=2, hidden_size=3, seed=1), 3, ports="axis")[1]
    man = man.as_dict()
    man["input"]["payload_ports"][1]["offset"] += 1
    with pytest.raises(Exception, match=r"input.payload_ports\[1\] must start at bit"):
        from_dict(man)


def test_unknown_port_style_is_a_usage_error(tmp_path, capsys):
    save(random_model(input_size=2, hidden_size=3), tmp_path / "model.json")
    with pytest.raises(SystemExit) as e:
        hw_main(["verilog", str(tmp_path / "model.json"), "--ports", "wishbone"])
    assert e.value.code == 2
    assert "--ports" in capsys.readouterr().err
    assert not (tmp_path / "top.v").exists()
