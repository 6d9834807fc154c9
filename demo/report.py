"""build/demo/report.json and report.md (with plots) from what the demo's stages wrote.

Every number comes from a stage's own output file: SCHEME/train.json, model.json and
bitstream.json for each model (demo/compare.py), and for the shift-add model its sim.json (the
RTL's accuracy, mismatches, measured cycles, its predictions) and manifest.json; times.json
holds the stages' seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hw import metrics, modelfile
from hw.fileio import atomic_save_png, atomic_write_text

from . import compare


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def gather(out: Path, settings: dict, schemes: tuple[str, ...]) -> dict:
    q = schemes[0]
    run = out / q
    sim, bit = _json(run / "sim.json"), _json(run / "bitstream.json")
    cmp = compare.gather(out, settings, schemes)
    m = cmp["models"][q]
    ts = metrics.load_testset(run / "testset.npz")
    clock, cps = bit["clock_mhz"], sim["cycles_per_step"]
    # from the first input beat of a sequence to its output beat, input always valid
    latency_cycles = (float(ts.lengths.mean()) - 1) * cps + sim["latency"]
    times = out / "times.json"
    return {
        "settings": settings,
        "board": bit["board"],
        **cmp,
        "rtl": {"accuracy": sim["rtl_metric"], "mismatches": sim["mismatches"],
                "simulator": sim["simulator"], "sequences": sim["sequences"],
                "cycles_per_step": cps, "latency": sim["latency"],
                "latency_us_per_sequence": latency_cycles / clock,
                # streamed back to back in the simulation, at the board's clock
                "sequences_per_second": sim["sequences"] / (sim["cycles"] / (clock * 1e6))},
        "exact": bool(m["exact"] and sim["mismatches"] == 0
                      and m["accuracy"] == m["qat"] == sim["rtl_metric"]),
        # the bitstream is the design the simulation checked (hw.gen.design): both record it
        "design_hash": bit.get("design_hash"),
        "simulated_design_built": bool(bit.get("design_hash"))
        and sim.get("design_hash") == bit.get("design_hash"),
        "dsp_inference": bit["dsp_inference"],
        "bitstream": bit["bitstream"],
        "stage_seconds": _json(times) if times.is_file() else {},
    }


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    atomic_save_png(fig, path)
    plt.close(fig)


def plots(out: Path, rep: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    q = rep["settings"]["quant"]
    run = out / q
    sim, ts = _json(run / "sim.json"), metrics.load_testset(run / "testset.npz")
    classes = sorted(set(ts.y.tolist()))
    pred = np.asarray(sim["rtl_predictions"])
    conf = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(conf, (ts.y, np.clip(pred, 0, None)), 1)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(conf, cmap="Blues")
    for (i, j), v in np.ndenumerate(conf):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > conf.max() / 2 else "black")
    ax.set(xlabel="predicted by the RTL", ylabel="true class", xticks=classes, yticks=classes,
           title=f"RTL on {len(ts)} test sequences: accuracy {sim['rtl_metric']:.4f}")
    _save(fig, out / "confusion.png")

    from train.checkpoint import load_checkpoint  # the shadow weights live in the checkpoint

    state = load_checkpoint(run / "checkpoint.pt", "report")
    model = modelfile.load(run / "model.json")
    shadow = np.concatenate([v.numpy().ravel() for k, v in state["net"].items()
                             if "weight" in k])
    quant = np.concatenate([m.values().ravel() for _, m in model.matrices()])
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.hist(shadow, bins=80, color="gray")
    a.set(title="shadow weights (float, trained)", xlabel="value", ylabel="weights")
    vals, counts = np.unique(quant, return_counts=True)
    b.bar([f"{v:g}" for v in vals], counts, color="tab:blue")
    b.set(title=f"exported {model.layers[0].w_ih.scheme} weights", xlabel="value")
    b.tick_params(axis="x", labelrotation=45, labelsize=7)
    _save(fig, out / "weights.png")

    built = {k: m for k, m in rep["models"].items() if m["fits"]}
    fig, ax = plt.subplots(figsize=(6.5, 3))
    keys = ["lut", "ff", "bram", "dsp"]
    x, w = np.arange(len(keys)), 0.8 / max(1, len(built))
    for i, (k, m) in enumerate(built.items()):
        ax.bar(x + (i - (len(built) - 1) / 2) * w, [m[key] for key in keys], w, label=k)
    ax.set(xticks=x, xticklabels=["LUT", "FF", "BRAM", "DSP"], yscale="symlog",
           title=f"{rep['board']}, each with its own folding, DSP inference "
                 f"{'on' if rep['dsp_inference'] else 'off'}")
    ax.legend()
    _save(fig, out / "resources.png")


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


def _num(v, fmt="{:,.0f}") -> str:
    return "-" if v is None else fmt.format(v)


def _name(m: dict) -> str:
    if m["scheme"] == "float":
        return f"float (exported as {', '.join(m['exported_as'])})"
    return m["scheme"]


def comparison(rep: dict) -> list[str]:
    """The side-by-side table, the reasons a design is missing, the equal-accuracy row and
    the shift-add model's distance to float."""
    s, models = rep["settings"], rep["models"]
    q = s["quant"]
    order = [k for k in ("float", q, "int8") if k in models]
    ms = [models[k] for k in order]

    def row(label, f):
        return f"| {label} | " + " | ".join(f(m) for m in ms) + " |"

    def built(key, fmt="{:,.0f}", avail=None):
        def f(m):
            if not m["fits"]:
                return "does not fit"
            v = _num(m[key], fmt)
            return f"{v} of {m[avail]}" if avail and m.get(avail) else v
        return f

    lines = ["| | " + " | ".join(_name(m) for m in ms) + " |", "|---" * (len(ms) + 1) + "|",
             row(f"test {ms[0]['metric']} (exported integer model)",
                 lambda m: _pct(m["accuracy"])),
             row("weight memory", lambda m: f"{m['weights']['bits']:,} bits"),
             row("folding (lanes x columns)",
                 lambda m: f"{m['parallel']} x {m['simd']}" if m["fits"] else "-"),
             row("LUTs", built("lut", avail="lut_available")),
             row("flip-flops", built("ff")),
             row("block RAMs", built("bram", avail="bram_available")),
             row("DSP blocks", built("dsp", avail="dsp_available")),
             row("SPRAM blocks", built("huge")),
             row("weights at power-up", lambda m: "-" if not m["fits"] else (
                 "in the bitstream" if m.get("shape") is None else
                 "none: loaded over the UART (`hw load`)" if m.get("huge") else
                 "in the bitstream; reloadable")),
             row("Fmax (nextpnr, post-route)", built("fmax_mhz", "{:.1f} MHz")),
             row("clock built at", built("clock_mhz", "{:g} MHz")),
             row("cycles per time step", built("cycles_per_step", "{:,.0f}")),
             row("time steps per second", built("steps_per_s")), ""]
    for m in ms:
        if not m["fits"]:
            lines += [f"The {m['scheme']} model ({m['weights']['bits']:,} weight bits as "
                      f"{', '.join(m['exported_as'])}) is not built for the {rep['board']}: "
                      f"{m['error']}.", ""]
    eq = rep["equal_accuracy"]
    if eq is None:
        lines += ["No equal-accuracy comparison: the int8 design was not built.", ""]
    else:
        st, lu, br = eq["steps"], eq["luts"], eq["brams"]
        lines += [
            "**At equal accuracy.** The best test accuracy both the "
            f"{q} and the int8 design reach is {_pct(eq['level'])} (`explore.iso`'s levels). "
            "There:", "",
            f"| at {_pct(eq['level'])} | {q} | int8 | {q} / int8 |", "|---|---|---|---|",
            f"| time steps per second | {st['shift']:,.0f} | {st['baseline']:,.0f} | "
            f"{st['ratio']:.2f}x |",
            f"| LUTs | {lu['shift']:,.0f} | {lu['baseline']:,.0f} | {lu['ratio']:.2f}x |",
            f"| block RAMs | {br['shift']:,.0f} | {br['baseline']:,.0f} | {br['ratio']:.2f}x |",
            ""]
    gap = rep["float_gap_points"]
    if gap is not None:
        if gap >= -0.5:
            lines += [f"The {q} model is {abs(gap):.2f} points "
                      f"{'above' if gap >= 0 else 'below'} the float model of the same size "
                      f"(the project's target: no more than 0.5 below).", ""]
        else:
            lines += [f"**The {q} model trails the float model of the same size by "
                      f"{-gap:.2f} points** (the project's target: no more than 0.5 "
                      f"below): one seed each, on {rep['rtl']['sequences']} test sequences "
                      f"(one is {100 / rep['rtl']['sequences']:.2f} points), at "
                      f"`--hidden {s['hidden']}` and the training budget above.", ""]
    return lines


def markdown(rep: dict, commands: list[str]) -> str:
    s, r = rep["settings"], rep["rtl"]
    q = s["quant"]
    m = rep["models"][q]
    dsp = "on" if rep["dsp_inference"] else "off (every product in LUTs)"
    sel = {k: ", ".join(f"{ph} {ep}" for ph, ep in (v.get("selected_epoch") or {}).items())
           or "the last" for k, v in rep["models"].items()}
    lines = [
        f"# shiftrnn demo: {q} against int8 and float, a {s['cell'].upper()} {s['hidden']} on "
        f"`{s['task']}`, on the {rep['board']}",
        "",
        f"Three {s['cell'].upper()}s with {s['hidden']} hidden units were trained the same way "
        f"on `{s['task']}` (the trainer's epochs, learning rate, seed and epoch selection rule "
        f"for the task, hardware mode: integer activations, "
        f"quantization-aware where the weights are quantized): one with {q} weights "
        f"(shift-and-add), one with int8 weights (multipliers) and one with float weights "
        f"(exported as int16: the model file has no float scheme). Each was turned into "
        f"Verilog with its own folding (`--parallel {s['parallel']}`: the most steps per second "
        f"that fits the board) and built into a bitstream for the {rep['board']} with the open "
        f"toolchain from pip, DSP inference {dsp}, clock `{s['clock_mhz']}`.",
        "",
        "## Side by side",
        "",
        *comparison(rep),
        "The epoch each model kept (`selected_epoch` in its train.json): "
        + "; ".join(f"{k}: {v}" for k, v in sel.items()) + ".",
        "",
        f"## The {q} design, checked",
        "",
        f"The Verilog was simulated with cocotb on {r['simulator']} over the whole test set "
        f"({r['sequences']} sequences): RTL accuracy {_pct(r['accuracy'])}, "
        f"**{r['mismatches']}** output beats differ from the reference model (every logit of "
        f"every sequence compared bit for bit). "
        + ("The torch model, the reference model and the RTL agree exactly."
           if rep["exact"] else "**They do not agree exactly: this is a bug.**"),
        "",
        (f"The {q} bitstream is the design the simulation checked (design hash "
         f"`{rep['design_hash'][:12]}`)." if rep["simulated_design_built"] else
         "**The bitstream's design is not the one the simulation checked: rerun the demo.**"),
        "",
        f"| timing ({q}) | |",
        "|---|---|",
        f"| clock | {m['clock_mhz']:g} MHz |",
        f"| cycles per time step (measured in simulation) | {r['cycles_per_step']:g} |",
        f"| latency per sequence (first input to class, compute only) | "
        f"{r['latency_us_per_sequence']:.1f} us |",
        f"| sequences per second (back to back, at the clock above) | "
        f"{r['sequences_per_second']:,.0f} |",
        f"| weights | {m['weights']['count']} ({m['weights']['nonzero']} nonzero), "
        f"{m['weights']['bits']} bits |",
        "",
        "The latency and throughput count the datapath only; over the board's UART each time "
        "step also needs its bytes on the serial line.",
        "",
        "## Plots",
        "",
        f"Training ({q}, then int8 and float):",
        "",
        *[f"![{k} training curves]({k}/curves.png)" for k in rep["models"]],
        "",
        "What the RTL predicted:",
        "",
        "![confusion matrix](confusion.png)",
        "",
        f"The {q} model's weights before (float shadow weights) and after quantization:",
        "",
        "![weights](weights.png)",
        "",
        "![resources](resources.png)",
        "",
        "## How this was made",
        "",
        "Each stage is one command; rerun any of them alone:",
        "",
        "```",
        *commands,
        "```",
        "",
    ]
    if rep["stage_seconds"]:
        lines += ["Seconds per stage (two at a time on this machine; a stage kept from an "
                  "earlier run keeps its time):", "",
                  "| stage | seconds |", "|---|---|",
                  *[f"| {k} | {v:.0f} |" for k, v in rep["stage_seconds"].items()], ""]
    return "\n".join(lines)


def write(out: Path, settings: dict, schemes: tuple[str, ...], commands: list[str]) -> dict:
    rep = gather(out, settings, schemes)
    plots(out, rep)
    atomic_write_text(out / "report.json", json.dumps(rep, indent=1) + "\n")
    atomic_write_text(out / "report.md", markdown(rep, commands))
    return rep
