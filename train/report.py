"""`python -m train.report RUN [RUN ...]`: a markdown table of finished runs' train.json files.

It only reads what the runs wrote, so every number in docs/training.md can be regenerated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = ("task", "cell", "hidden", "quant", "mode", "epochs", "float", "ptq", "qat", "integer",
           "exact", "seconds")


def row(path: Path) -> dict:
    r = json.loads((path / "train.json").read_text())
    c = r["config"]
    epochs = c["epochs"] + (c["ptq_finetune"] if c["ptq"] else 0)
    quant = c["quant"] + (f" (PTQ, {c['ptq_finetune']} ft)" if c["ptq"] else "")
    return {"task": c["task"], "cell": c["cell"], "hidden": c["hidden"], "quant": quant,
            "mode": c["mode"], "epochs": epochs, "float": r.get("float"), "ptq": r.get("ptq"),
            "qat": r["qat"], "integer": r["integer"], "exact": "yes" if r.get("exact") else "no",
            "seconds": r["seconds"],
            "metric": r["metric"]}


def table(rows: list[dict]) -> str:
    def fmt(key, v):
        if v is None:
            return ""
        if key == "seconds":
            return f"{v:.0f}"
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(fmt(k, r[k]) for k in COLUMNS) + " |" for r in rows]
    return "\n".join(out)


def main(argv=None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    missing = [str(p) for p in paths if not (p / "train.json").is_file()]
    if not paths or missing:
        print(f"error: no train.json in {', '.join(missing) or '(no run given)'}", file=sys.stderr)
        return 2
    print(table([row(p) for p in paths]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
