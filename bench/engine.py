"""The engine's figures on a board, from one run: throughput, Fmax, LUTs against int8, the
roofline fraction, cycles against the engine's own bound.

    .venv/bin/python -m bench.engine --board icebreaker [--run build/demo/ternary]
        [--int8 build/demo/int8] [--placements 5]
    .venv/bin/python -m bench.engine --board ulx3s [--hidden 752] [--clock-mhz auto|MHZ]

iCEBreaker: the demo's trained model (RUN/model.json, testset.npz and checkpoint.pt, written by
`make demo`), generated with `--parallel auto`, built with `--clock-mhz auto` (the PLL clock
it meets). Sequences per second are measured: the test set's first `--measure` sequences run
back to back through the circuit in amaranth.sim (cycles counted), then the whole test set's
cycle count from the published per-step figures (the same numbers for the measured part, which
the script checks) at the built clock. The int8 baseline is the demo's int8 model (trained
quantization-aware next to the ternary one, `--int8`), generated here with the ternary design's
lanes, columns and storage; with them it need not fit the iCEBreaker's block RAM, so both are
built for the ULX3S at its 25 MHz oscillator with DSP inference on, and the LUT ratio compares
like with like (the demo's own report compares each with its own folding).

ULX3S: a ternary GRU with input 16 and `--hidden` units (random weights: the figures do not
depend on them), `--parallel auto` for the ULX3S (its placement: code banks, distributed RAM),
built with `--clock-mhz` (default auto).

Every step is the project's own command (printed); the builds land in --out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hw.gen.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str) -> None:
    print(f"$ python -m {' '.join(argv)}", flush=True)
    r = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT)
    if r.returncode:
        raise SystemExit(f"error: python -m {' '.join(argv)} failed (exit {r.returncode})")


def measured_cycles(folder: Path, count: int) -> tuple[int, int, int]:
    """(cycles measured in amaranth.sim for the first `count` test sequences back to back, to
    the cycle the last output beat is taken, the published figures' count for the same,
    sequences simulated)."""
    from hw import metrics
    from hw.gen.placement import Placement
    from hw.gen.simulate import simulate
    from hw.gen.topplan import TopPlan
    from hw.modelfile import load

    man = load_manifest(folder / "manifest.json")
    model = load(folder / "model.json")
    ts = metrics.load_testset(folder / "testset.npz")
    seqs = [ts.x[i, :ts.lengths[i]] for i in range(min(count, len(ts)))]
    plan = TopPlan.of(model, parallel=man.parallel, simd=man.simd, storage=man.storage,
                      placement=Placement.from_dict(man.placement), order=man.order or "rows")
    trace = simulate(plan.create(), seqs)
    published = sum(plan.sequence_cycles(len(s)) for s in seqs) + 1  # the last beat's cycle
    return trace.cycles, published, len(seqs)


def placements(build_dirs, fmax: float, clock_mhz: float, seeds: int) -> str:
    """Place and route the kept build again with nextpnr seeds 2..seeds+1 (its own command
    line from build_top.sh, the seed and the output files changed): the Fmax's spread over
    placements of the same netlist, and how many meet the clock."""
    import re

    from hw.board.build import REPORT, read_report, tool_env

    kept = None
    for d in build_dirs:
        rep = d / REPORT
        if rep.exists() and read_report(rep)[1] == fmax:
            kept = d
    if kept is None:
        raise SystemExit(f"error: no build folder with Fmax {fmax} among {build_dirs}")
    line = next(ln for ln in (kept / "build_top.sh").read_text().splitlines()
                if ln.startswith('"$NEXTPNR'))
    found = [fmax]
    for seed in range(2, seeds + 2):
        cmd = re.sub(r"--seed \d+", f"--seed {seed}", line)
        cmd = cmd.replace(f"--report {REPORT}", f"--report seed{seed}.json")
        cmd = re.sub(r"--log \S+", f"--log seed{seed}.tim", cmd)
        cmd = re.sub(r" --(asc|textcfg) \S+", "", cmd)
        print(f"$ (in {kept}) {cmd}", flush=True)
        subprocess.run(["sh", "-c", cmd], cwd=kept, env=tool_env(), check=True,
                       capture_output=True)
        found.append(read_report(kept / f"seed{seed}.json")[1])
    meet = sum(f >= clock_mhz for f in found)
    return (f"{min(found):.1f}-{max(found):.1f} MHz over {len(found)} placements (nextpnr seeds "
            f"1-{seeds + 1}); {meet} of {len(found)} meet {clock_mhz:g} MHz")


def icebreaker(args) -> list[tuple[str, str]]:
    from hw import metrics
    from hw.gen.placement import Placement
    from hw.gen.topplan import TopPlan
    from hw.modelfile import load

    src, out = Path(args.run), Path(args.out) / "icebreaker"
    for f in (src / "model.json", src / "testset.npz", Path(args.int8) / "model.json"):
        if not f.is_file():
            raise SystemExit(f"error: {f} does not exist (run make demo, or pass --run and "
                             f"--int8)")
    tern, i8 = out / "ternary", out / "int8"
    for d in (tern, i8):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    shutil.copy(src / "model.json", tern)
    shutil.copy(src / "testset.npz", tern)
    run("hw", "verilog", str(tern / "model.json"), "--parallel", "auto", "--board",
        "icebreaker")
    man = load_manifest(tern / "manifest.json")
    run("hw", "bitstream", str(tern), "--board", "icebreaker", "--clock-mhz", "auto")
    fast = json.loads((tern / "bitstream.json").read_text())
    # like for like: the same folding, storage and DSP setting, the same clock, on the ULX3S
    # (int8 codes take four times the block RAM: with this folding the int8 design does not
    # fit the iCEBreaker's 30 block RAMs)
    same = out / "ternary-ulx3s"
    shutil.rmtree(same, ignore_errors=True)
    same.mkdir()
    shutil.copy(src / "model.json", same)
    fold = ["--parallel", str(man.parallel), "--simd", str(man.simd), "--storage",
            man.storage, "--order", man.order or "rows", "--board", "ulx3s"]
    run("hw", "verilog", str(same / "model.json"), *fold)
    run("hw", "bitstream", str(same), "--board", "ulx3s", "--clock-mhz", "25")
    shutil.copy(Path(args.int8) / "model.json", i8)
    run("hw", "verilog", str(i8 / "model.json"), *fold)
    run("hw", "bitstream", str(i8), "--board", "ulx3s", "--clock-mhz", "25")
    t_lut = json.loads((same / "bitstream.json").read_text())["lut"]
    i_lut = json.loads((i8 / "bitstream.json").read_text())["lut"]
    # and with DSP inference off for both: the int8 products in logic
    run("hw", "bitstream", str(same), "--board", "ulx3s", "--clock-mhz", "25", "--no-dsp")
    run("hw", "bitstream", str(i8), "--board", "ulx3s", "--clock-mhz", "25", "--no-dsp")
    t_lut0 = json.loads((same / "bitstream.json").read_text())["lut"]
    i_lut0 = json.loads((i8 / "bitstream.json").read_text())["lut"]

    spread = placements(sorted(tern.glob("build-icebreaker*")), fast["fmax_mhz"],
                        fast["clock_mhz"], args.placements) if args.placements else None
    cycles, published, n = measured_cycles(tern, args.measure)
    if cycles != published:
        raise SystemExit(f"error: amaranth.sim took {cycles} cycles for {n} sequences, the "
                         f"published figures say {published}")
    ts = metrics.load_testset(tern / "testset.npz")
    tp = TopPlan.of(load(tern / "model.json"), parallel=man.parallel, simd=man.simd,
                    storage=man.storage, image=False,
                    placement=Placement.from_dict(man.placement),
                    order=man.order or "rows")
    total = sum(tp.sequence_cycles(int(t)) for t in ts.lengths)
    seq_s = len(ts) * fast["clock_mhz"] * 1e6 / total
    roof = fast.get("roofline", {})
    return [
        ("model", f"{man.cell} {man.hidden_size}, input {man.input_size}, "
                  f"{len(ts)} test sequences"),
        ("folding (auto)", f"P = {man.parallel} lanes x S = {man.simd} columns, "
                           f"order {man.order or 'rows'}, {man.storage} storage"),
        ("sequences/s", f"{seq_s:,.0f} at {fast['clock_mhz']:g} MHz ({total} cycles for the "
                        f"test set; {cycles} measured in amaranth.sim for the first {n})"),
        ("Fmax", f"{fast['fmax_mhz']:.1f} MHz (clock {fast['clock_mhz']:g} MHz)"),
        *([("Fmax, other placements", spread)] if spread else []),
        ("LUTs", f"{fast['lut']} of {fast['lut_available']}, {fast['bram']} BRAM, "
                 f"{fast['dsp']} DSP"),
        ("ternary / int8 LUTs", f"{t_lut / i_lut:.2f} ({t_lut} / {i_lut}: the same lanes, "
                                f"columns and storage, DSP inference on, both on the ULX3S at "
                                f"25 MHz)"),
        ("ternary / int8 LUTs, no DSP", f"{t_lut0 / i_lut0:.2f} ({t_lut0} / {i_lut0}: the same, "
                                        f"DSP inference off for both)"),
        ("cycles/step / bound", f"{man.cycles_per_step / man.bound_cycles:.2f} "
                                f"({man.cycles_per_step} / {man.bound_cycles})"),
        ("fraction of the device bound", f"{roof.get('fraction_of_bound', float('nan')):.3f}"),
    ]


def ulx3s(args) -> list[tuple[str, str]]:
    from hw.modelfile import save
    from hw.random_model import random_model

    out = Path(args.out) / f"ulx3s-gru{args.hidden}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    save(random_model(cell="gru", scheme="ternary", input_size=16, hidden_size=args.hidden,
                      outputs=10, seed=0), out / "model.json")
    t0 = time.monotonic()
    run("hw", "verilog", str(out / "model.json"), "--parallel", "auto", "--board", "ulx3s")
    man = load_manifest(out / "manifest.json")
    run("hw", "bitstream", str(out), "--board", "ulx3s", "--clock-mhz", args.clock_mhz)
    b = json.loads((out / "bitstream.json").read_text())
    roof = b.get("roofline", {})
    return [
        ("model", f"ternary GRU {args.hidden}, input 16, 10 outputs (random weights)"),
        ("folding (auto)", f"P = {man.parallel} x S = {man.simd}, order "
                           f"{man.order or 'rows'}"),
        ("steps/s", f"{b['clock_mhz'] * 1e6 / man.cycles_per_step:,.0f} "
                    f"({man.cycles_per_step} cycles/step at {b['clock_mhz']:g} MHz)"),
        ("Fmax", f"{b['fmax_mhz']:.1f} MHz"),
        ("LUTs, BRAM", f"{b['lut']} of {b['lut_available']}, {b['bram']} of "
                       f"{b['bram_available']}"),
        ("cycles/step / bound", f"{man.cycles_per_step / man.bound_cycles:.3f}"),
        ("fraction of the device bound", f"{roof.get('fraction_of_bound', float('nan')):.3f} "
                                         f"({roof.get('weight_ops_per_s', 0):.3g} of "
                                         f"{roof.get('bound_weight_ops_per_s', 0):.3g} "
                                         f"weight-ops/s)"),
        ("wall time", f"{time.monotonic() - t0:.0f} s"),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True, choices=["icebreaker", "ulx3s"])
    ap.add_argument("--run", default="build/demo/ternary",
                    help="iCEBreaker: the demo's ternary run folder")
    ap.add_argument("--int8", default="build/demo/int8",
                    help="iCEBreaker: the demo's int8 run folder (the LUT baseline)")
    ap.add_argument("--hidden", type=int, default=752, help="ULX3S: the GRU's hidden units")
    ap.add_argument("--measure", type=int, default=32,
                    help="iCEBreaker: test sequences measured in amaranth.sim (default 32)")
    ap.add_argument("--clock-mhz", default="auto",
                    help="ULX3S: the clock to build at (default auto: the oscillator, then the "
                         "PLL at 90 %% of the Fmax found; a large model's build takes long, so "
                         "one asked-for clock saves builds)")
    ap.add_argument("--placements", type=int, default=5,
                    help="iCEBreaker: place and route the kept build again with this many other "
                         "nextpnr seeds (the Fmax's spread; default 5, 0: none)")
    ap.add_argument("--out", default="build/bench-engine")
    args = ap.parse_args()
    rows = icebreaker(args) if args.board == "icebreaker" else ulx3s(args)
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
