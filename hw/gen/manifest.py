"""manifest.json: everything a testbench or a board top needs to drive the generated `top`.

Port names are the ones amaranth.back.verilog emits for the component's stream members
(`i__valid`, `o__payload`, ...), or with `--ports axis` those of hw.gen.axis (`s_axis_tdata`,
..., each stream's payload split over `payload_ports`, lowest bits first); `verilog_ports`
checks them against the emitted text, so a change in Amaranth's naming fails generation
instead of every testbench.
"""

from __future__ import annotations

import re

from ..board.protocol import fingerprint
from .axis import NATIVE
from .fit import roofline
from .top import ModelTop

TOP, CLOCK, RESET = "top", "clk", "rst"


def _stream(prefix: str, layout, elem_bits: int, elem_count: int, signed_data: bool) -> dict:
    fields = {}
    for name, fld in layout:
        if name == "data":
            fields[name] = {"offset": fld.offset, "count": elem_count, "width": elem_bits,
                            "signed": signed_data}
        else:
            fields[name] = {"offset": fld.offset, "width": fld.width, "signed": False}
    return {"valid": f"{prefix}__valid", "ready": f"{prefix}__ready",
            "payload": f"{prefix}__payload", "payload_width": layout.size, "fields": fields}


def manifest(top: ModelTop, device=None) -> dict:
    """`device` (hw.gen.fit.Device): the board the roofline figures refer to, at its clock."""
    model = top.model
    tp = getattr(top, "tp", None)
    extra = {}
    if tp is not None:
        extra = {"placement": tp.placement.as_dict(),
                 "weights_per_step": tp.weights_per_step,
                 "sequence_cycles_8": tp.sequence_cycles(8)}
        if device is not None:
            extra["board_device"] = device.name
            extra["roofline"] = roofline(tp, device, device.clock_mhz)
    return extra | {
        "top": TOP, "ports": NATIVE, "clock": CLOCK, "reset": RESET, "reset_active_low": False,
        "model_fingerprint": f"{fingerprint(model):08x}",
        "emit": top.emit,
        "parallel": top.parallel,
        "simd": getattr(top, "simd", 1),
        "lanes": top.resources.get("lanes", top.parallel),
        "storage": top.storage,
        "cell": model.cell,
        "activation": model.activation,
        "hidden_size": model.hidden_size,
        "input_size": model.input_size,
        "num_layers": model.num_layers,
        "outputs": top.out_count,
        "input": _stream("i", top.in_layout, model.formats["input"].bits, model.input_size, True),
        "output": _stream("o", top.out_layout, top.out_bits, top.out_count, True),
        "cycles_per_step": top.cycles_per_step,
        "latency": top.latency,
        "bound_cycles": getattr(top, "bound_cycles", None),
        "resources": top.resources,
        "formats": {k: v.as_dict() for k, v in model.formats.items()},
        "schemes": {name: m.scheme for name, m in model.matrices()},
    }


def verilog_ports(text: str, module: str = TOP) -> set[str]:
    """The port names of `module` in Verilog text."""
    m = re.search(rf"\bmodule\s+{re.escape(module)}\s*\(([^)]*)\)", text)
    if m is None:
        raise RuntimeError(f"module {module} not found in the generated Verilog")
    return {p.strip() for p in m.group(1).split(",") if p.strip()}


def check_ports(man: dict, text: str) -> None:
    ports = verilog_ports(text, man["top"])
    want = {man["clock"], man["reset"]}
    for side in ("input", "output"):
        want |= {man[side][k] for k in ("valid", "ready")}
        if "payload_ports" in man[side]:
            want |= {p["port"] for p in man[side]["payload_ports"]}
        else:
            want.add(man[side]["payload"])
    if want != ports:
        raise RuntimeError(f"generated ports {sorted(ports)} differ from the manifest's "
                           f"{sorted(want)}")
