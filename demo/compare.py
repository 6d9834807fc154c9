"""The demo's three models side by side, and the ratio of the shift-add and int8 designs at
the accuracy both reach.

Every figure comes from a stage's own file in OUT/SCHEME/: train.json (the test accuracy of
the exported integer model, equal to the torch model's in hardware mode), model.json (the
weight memory), bitstream.json (nextpnr's utilisation and Fmax, the clock built at, the
manifest's cycles per step). The equal-accuracy row is explore.iso's: the demo's designs are
turned into the explorer's records and handed to `iso_tables`, so the demo and
`python -m explore.report --iso-accuracy` compare the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from explore.iso import iso_tables
from hw import modelfile
from hw.check import weight_stats

BUILT = ("lut", "ff", "bram", "dsp", "fmax_mhz", "clock_mhz", "cycles_per_step", "parallel",
         "simd", "lut_available", "bram_available", "dsp_available", "huge", "shape")


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def model_figures(run: Path, scheme: str) -> dict:
    """One model's figures (see the module); `fits` False with `error` the reason when its
    design did not fit the board."""
    tr, bit = _json(run / "train.json"), _json(run / "bitstream.json")
    model = modelfile.load(run / "model.json")
    out = {"scheme": scheme, "exported_as": sorted({m.scheme for _, m in model.matrices()}),
           "metric": tr["metric"], "accuracy": tr["integer"], "qat": tr["qat"],
           "exact": tr["exact"], "selected_epoch": tr.get("selected_epoch"),
           "train_seconds": tr["seconds"], "weights": asdict(weight_stats(model)),
           "fits": bit.get("fits", True), "error": bit.get("error")}
    if out["fits"]:
        out.update({k: bit.get(k) for k in BUILT})
        # the explorer's figure (explore/stages.py): the manifest's cycles at the built clock
        out["steps_per_s"] = round(1e6 / bit["us_per_step"], 1) if bit.get("us_per_step") \
            else None
    return out


def record(m: dict, settings: dict) -> dict:
    """The model as a record of the explorer's trials.jsonl (the fields explore.iso reads)."""
    figs = {"train": {"metric": m["metric"], "integer": m["accuracy"],
                      "weight_bits": m["weights"]["bits"]}}
    if m["fits"]:
        figs["bitstream"] = {"lut": m["lut"], "bram": m["bram"], "steps_per_s": m["steps_per_s"]}
    return {"hash": m["scheme"], "status": "ok", "run": m["scheme"], "figures": figs,
            "config": {"quant": m["scheme"], "cell": settings["cell"],
                       "hidden": settings["hidden"], "board": settings["board"],
                       "task": settings["task"]}}


def equal_accuracy(models: dict[str, dict], settings: dict, shift: str,
                   baseline: str = "int8") -> dict | None:
    """At the best accuracy both `shift` and `baseline` reach (explore.iso's levels): each
    one's steps/s and LUTs, and shift / baseline. None when either has no bitstream."""
    tables = {t.objective: t for t in iso_tables([record(m, settings)
                                                  for m in models.values()])}
    out = None
    for objective in ("steps", "luts", "brams"):
        t = tables.get(objective)
        if t is None:
            return None
        level = next((lv for lv in t.levels
                      if (lv, shift) in t.cells and (lv, baseline) in t.cells), None)
        if level is None:
            return None
        out = out or {"level": level, "metric": t.metric, "shift": shift, "baseline": baseline}
        out[objective] = {"shift": t.cells[level, shift].value,
                          "baseline": t.cells[level, baseline].value,
                          "ratio": t.ratio(level, shift, baseline)}
    return out


def gather(out: Path, settings: dict, schemes: tuple[str, ...]) -> dict:
    models = {q: model_figures(out / q, q) for q in schemes}
    shift = schemes[0]
    return {"models": models,
            "equal_accuracy": equal_accuracy(models, settings, shift),
            "float_gap_points": (None if "float" not in models else
                                 round(100 * (models[shift]["accuracy"]
                                              - models["float"]["accuracy"]), 2))}
