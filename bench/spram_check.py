"""A memory of `lib.memory` in the iCE40UP5K's SPRAM, through the board build's own yosys step.

    .venv/bin/python -m bench.spram_check [--width 64] [--depth 16384] [--out build/spram-check]

Builds, for the iCEBreaker with the YoWASP tools, a small design around one Amaranth
`lib.memory.Memory` with `ram_style = "huge"`, as hw.gen places code words in SPRAM: one
write port and one read port on the same address (the SPRAM is single-ported), the read
disabled while writing (its read data keeps its value during a write), and its contents
dropped before synthesis as `hw.board.build` does for such memories (HUGE_WITHOUT_INIT). The
address counts up, a button writes, and the read word's parity drives an LED, so nothing is
optimised away. Prints nextpnr's utilisation: ICESTORM_SPRAM is the SPRAM blocks used, and
width/16 x depth/16384 of them is what hw.gen.placement.huge_blocks_of counts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from amaranth.hdl import Elaboratable, Module, Mux, Signal
from amaranth.lib.memory import Memory

from hw.board.build import HUGE_WITHOUT_INIT, REPORT, tool_env
from hw.board.registry import BOARDS
from hw.cli import Parser, run
from hw.gen.placement import huge_blocks_of


class SpramProbe(Elaboratable):
    def __init__(self, width: int, depth: int):
        self.width, self.depth = width, depth

    def elaborate(self, platform):
        m = Module()
        W, D = self.width, self.depth
        m.submodules.mem = mem = Memory(shape=W, depth=D, init=[1, 2, 3],
                                        attrs={"ram_style": "huge"})
        count = Signal(range(D))
        data = Signal(W)
        m.d.sync += [count.eq(count + 1), data.eq(Mux(data[-1], data << 1, (data << 1) | 1))]
        we = platform.request("button", 0).i
        wp, rp = mem.write_port(), mem.read_port()
        m.d.comb += [wp.addr.eq(count), rp.addr.eq(count), wp.data.eq(data), wp.en.eq(we),
                     rp.en.eq(~we)]
        m.d.comb += platform.request("led", 0).o.eq(rp.data.xor())
        return m


def main() -> int:
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--depth", type=int, default=16384)
    ap.add_argument("--out", default="build/spram-check")
    args = ap.parse_args()
    board = BOARDS["icebreaker"]
    out = Path(args.out)
    plan = board.platform().build(SpramProbe(args.width, args.depth), name="top",
                                  build_dir=str(out), do_build=False,
                                  script_after_read=HUGE_WITHOUT_INIT,
                                  nextpnr_opts=f"--report {REPORT}")
    products = plan.execute_local(str(out), env=tool_env())
    report = json.loads(products.get(REPORT, mode="t"))
    use = {k: (v["used"], v["available"]) for k, v in report["utilization"].items()}
    for cell in ("ICESTORM_SPRAM", "ICESTORM_RAM", "ICESTORM_LC"):
        print(f"{cell:16s} {use[cell][0]} of {use[cell][1]}")
    print(f"expected SPRAM   {huge_blocks_of(args.width, args.depth)} "
          f"({args.width} bits x {args.depth} words)")
    return 0 if use["ICESTORM_SPRAM"][0] == huge_blocks_of(args.width, args.depth) else 1


if __name__ == "__main__":
    sys.exit(run(main))
