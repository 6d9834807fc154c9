"""build/demo/report.json and report.md (with plots) from what the demo's stages wrote.

Every number comes from a stage's own output file: RUN/train.json (accuracies), RUN/sim.json
(the RTL's accuracy, mismatches, measured cycles, its predictions), RUN/bitstream.json and
int8/bitstream.json (nextpnr's utilisation and Fmax), RUN/manifest.json and model.json.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from hw import metrics, modelfile
from hw.check import weight_stats
from hw.fileio import atomic_save_png, atomic_write_text
from hw.gen.manifest import load_manifest


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def gather(out: Path, settings: dict) -> dict:
    run, base = out / "run", out / "int8"
    tr, sim = _json(run / "train.json"), _json(run / "sim.json")
    bit, bbit = _json(run / "bitstream.json"), _json(base / "bitstream.json")
    man = load_manifest(run / "manifest.json")
    model = modelfile.load(run / "model.json")
    ts = metrics.load_testset(run / "testset.npz")
    clock = bit["clock_mhz"]
    cps = sim["cycles_per_step"]
    mean_len = float(ts.lengths.mean())
    # from the first input beat of a sequence to its output beat, input always valid
    latency_cycles = (mean_len - 1) * cps + sim["latency"]
    res = {k: bit[k] for k in ("lut", "ff", "bram", "dsp")}
    fits = bbit.get("fits", True)  # False: the int8 design did not fit (demo/stages.py)
    b = {k: bbit.get(k) for k in ("lut", "ff", "bram", "dsp", "fmax_mhz", "clock_mhz")}
    b["fits"], b["error"] = fits, bbit.get("error")
    b["accuracy"] = _json(base / "int8.json")["accuracy"]
    b["weights"] = asdict(weight_stats(modelfile.load(base / "model.json")))
    ratio = {k: (res[k] / b[k] if fits and b[k] else None) for k in ("lut", "ff", "bram", "dsp")}
    ratio["fmax"] = bit["fmax_mhz"] / b["fmax_mhz"] if fits else None
    return {
        "settings": settings,
        "board": bit["board"],
        "accuracy": {"float": tr.get("float"), "qat": tr["qat"], "integer": tr["integer"],
                     "rtl": sim["rtl_metric"]},
        "exact": bool(tr["exact"] and sim["mismatches"] == 0
                      and tr["integer"] == tr["qat"] == sim["rtl_metric"]),
        "rtl_mismatches": sim["mismatches"],
        # the bitstream is the design the simulation checked (hw.gen.design): both record it
        "design_hash": bit.get("design_hash"),
        "simulated_design_built": bool(bit.get("design_hash"))
        and sim.get("design_hash") == bit.get("design_hash"),
        "simulator": sim["simulator"],
        "test_sequences": sim["sequences"],
        "resources": res,
        "available": {"lut": bit["lut_available"], "bram": bit["bram_available"],
                      "dsp": bit["dsp_available"]},
        "dsp_inference": bit["dsp_inference"],
        "fmax_mhz": bit["fmax_mhz"],
        "clock_mhz": clock,
        "parallel": man.parallel,
        "cycles_per_step": cps,
        "latency_us_per_sequence": latency_cycles / clock,
        # streamed back to back in the simulation, at the board's clock
        "sequences_per_second": sim["sequences"] / (sim["cycles"] / (clock * 1e6)),
        "weights": asdict(weight_stats(model)),
        "baseline_int8": b,
        "ratio_to_int8": ratio,
        "train_seconds": tr["seconds"],
        "bitstream": bit["bitstream"],
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

    run = out / "run"
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
    ax.set(xlabel="predicted by the RTL", ylabel="true digit", xticks=classes, yticks=classes,
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

    fig, ax = plt.subplots(figsize=(6, 3))
    keys = ["lut", "ff", "bram", "dsp"]
    x = np.arange(len(keys))
    ax.bar(x - 0.2, [rep["resources"][k] for k in keys], 0.4, label=rep["settings"]["quant"])
    if rep["baseline_int8"]["fits"]:
        ax.bar(x + 0.2, [rep["baseline_int8"][k] for k in keys], 0.4, label="int8 baseline")
    ax.set(xticks=x, xticklabels=["LUT", "FF", "BRAM", "DSP"], yscale="symlog",
           title=f"{rep['board']}, P = {rep['parallel']}, DSP inference "
                 f"{'on' if rep['dsp_inference'] else 'off'}")
    ax.legend()
    _save(fig, out / "resources.png")


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


def _ratio(v) -> str:
    return "n/a" if v is None else f"{v:.2f}x"


def markdown(rep: dict, commands: list[str]) -> str:
    s, a, r, b, q = (rep["settings"], rep["accuracy"], rep["resources"], rep["baseline_int8"],
                     rep["ratio_to_int8"])
    dsp = "on" if rep["dsp_inference"] else "off (every product in LUTs)"
    w = rep["weights"]
    lines = [
        f"# shiftrnn demo: a {s['quant']} {s['cell'].upper()} on `{s['task']}`, "
        f"on the {rep['board']}",
        "",
        f"A hardware-mode {s['quant']} {s['cell'].upper()} with {s['hidden']} hidden units was "
        f"trained on scikit-learn's 8x8 digits (each image 8 time steps of 8 pixels), exported "
        f"as `run/model.json`, turned into Verilog with {rep['parallel']} shift-and-add lanes, "
        f"simulated with cocotb on {rep['simulator']} over the whole test set "
        f"({rep['test_sequences']} sequences) and built into a bitstream with the open "
        f"toolchain from pip.",
        "",
        "## Accuracy on the test set",
        "",
        "| model | accuracy |",
        "|---|---|",
        f"| float GRU (same size, trained first for comparison) | {_pct(a['float'])} |",
        f"| {s['quant']}, the trained torch model in hardware mode (`qat`) | {_pct(a['qat'])} |",
        f"| the exported integer model, `hw/reference.py` (`integer`) | {_pct(a['integer'])} |",
        f"| the Verilog in cocotb on {rep['simulator']} (`rtl`) | {_pct(a['rtl'])} |",
        f"| int8 baseline (post-training int8 of the same shadow weights, reference model) "
        f"| {_pct(b['accuracy'])} |",
        "",
        f"RTL output beats that differ from the reference model: **{rep['rtl_mismatches']}** "
        f"(every logit of every sequence compared bit for bit). "
        + ("The torch model, the reference model and the RTL agree exactly."
           if rep["exact"] else "**They do not agree exactly: this is a bug.**"),
        "",
        "## Hardware",
        "",
        (f"The {s['quant']} bitstream is the design the simulation checked (design hash "
         f"`{rep['design_hash'][:12]}`)." if rep["simulated_design_built"] else
         "**The bitstream's design is not the one the simulation checked: rerun the demo.**"),
        "",
        f"Both bitstreams: {rep['board']}, {rep['parallel']} lanes, DSP inference {dsp}."
        + ("" if b["fits"] else f" The int8 design with the same lanes and columns does not "
                                f"fit: {b['error']}"),
        "",
        f"| | {s['quant']} (shift-and-add) | int8 (multipliers) | {s['quant']} / int8 |",
        "|---|---|---|---|",
    ]
    for k, name in (("lut", "LUTs"), ("ff", "flip-flops"), ("bram", "block RAMs"),
                    ("dsp", "DSP blocks")):
        avail = rep["available"].get(k)
        ours = f"{r[k]} of {avail}" if avail else f"{r[k]}"
        theirs = b[k] if b["fits"] else "does not fit"
        lines.append(f"| {name} | {ours} | {theirs} | {_ratio(q[k])} |")
    bf = f"{b['fmax_mhz']:.1f} MHz" if b["fits"] else "-"
    lines += [
        f"| Fmax (nextpnr, post-route) | {rep['fmax_mhz']:.1f} MHz | {bf} "
        f"| {_ratio(q['fmax'])} |",
        f"| weight memory | {w['bits']} bits | {b['weights']['bits']} bits "
        f"| {_ratio(w['bits'] / b['weights']['bits'])} |",
        "",
        f"| timing ({s['quant']}) | |",
        "|---|---|",
        f"| clock | {rep['clock_mhz']:g} MHz |",
        f"| cycles per time step (measured in simulation) | {rep['cycles_per_step']:g} |",
        f"| latency per sequence (first input to class, compute only) | "
        f"{rep['latency_us_per_sequence']:.1f} us |",
        f"| sequences per second (back to back, at the clock above) | "
        f"{rep['sequences_per_second']:.0f} |",
        f"| weights | {w['count']} ({w['nonzero']} nonzero), {w['bits']} bits |",
        "",
        "The latency and throughput count the datapath only; over the board's UART each time "
        "step also needs its bytes on the serial line.",
        "",
        "## Plots",
        "",
        "Training (float baseline, then quantization-aware training):",
        "",
        "![training curves](run/curves.png)",
        "",
        "What the RTL predicted:",
        "",
        "![confusion matrix](confusion.png)",
        "",
        "Weights before (float shadow weights) and after quantization:",
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
    return "\n".join(lines)


def write(out: Path, settings: dict, commands: list[str]) -> dict:
    rep = gather(out, settings)
    plots(out, rep)
    atomic_write_text(out / "report.json", json.dumps(rep, indent=1) + "\n")
    atomic_write_text(out / "report.md", markdown(rep, commands))
    return rep
