"""`python -m train.report RUN [RUN ...]`: a markdown table of finished runs' train.json files.

It only reads what the runs wrote, so every number in docs/training.md and docs/experiments.md
can be regenerated.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hw.errors import UserError

COLUMNS = ("task", "cell", "hidden", "quant", "mode", "epochs", "float", "ptq", "qat", "integer",
           "exact", "seconds")


def _load(path: Path) -> tuple[dict, dict]:
    f = path / "train.json"
    if not f.is_file():
        raise UserError(f"no train.json in {path} (a finished run writes it)")
    try:
        r = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{f} is not readable JSON ({type(e).__name__})") from None
    c = r.get("config") if isinstance(r, dict) else None
    need = [k for k in ("metric", "qat", "integer", "seconds", "config") if k not in r] \
        if isinstance(r, dict) else ["an object"]
    need += [f"config.{k}" for k in ("task", "cell", "hidden", "quant", "mode", "epochs",
                                      "ptq", "ptq_finetune")
             if isinstance(c, dict) and k not in c]
    if need or not isinstance(c, dict):
        raise UserError(f"{f} is incomplete: it lacks {', '.join(need) or 'config'}")
    return r, c


def row(path: Path) -> dict:
    r, c = _load(path)
    trained = 0 if c.get("init") and c["ptq"] else c["epochs"]  # --init is the float model
    epochs = trained + (c["ptq_finetune"] if c["ptq"] else 0)
    own = [f"{w} {c[k]}" for w, k in (("input", "input_quant"), ("head", "head_quant"))
           if c.get(k)]
    quant = c["quant"] + (f" ({', '.join(own)})" if own else "") + \
        (f" (PTQ, {c['ptq_finetune']} ft)" if c["ptq"] else "") + \
        (" (--init)" if c.get("init") else "")
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
    p = argparse.ArgumentParser(prog="python -m train.report", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders holding train.json")
    args = p.parse_args(argv)
    try:
        rows = [row(Path(r)) for r in args.runs]
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
