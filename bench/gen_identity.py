"""Byte-identity of the generator's output across a refactor: top.v and manifest.json of a
fixed set of random models, hashed.

    .venv/bin/python -m bench.gen_identity --out before.json     # at the commit before
    .venv/bin/python -m bench.gen_identity --check before.json   # after each change

results/gen-identity-dff68a5.json holds the hashes of main at dff68a5 (the generator
before the plan-object refactor, with issue 29's mixed precision and one-hot inputs).

The cases cover every cell (rnn, gru, lstm), every scheme (binary, ternary, pow2-ternary,
exponential, int4, int8), both engine styles (wide lanes at several P x S, and unrolled with
all or some cell units), both storages, both walk orders and `order="auto"`, `parallel="auto"`
for both boards, both boards' memory placements (the ULX3S's code banks, with a short last
bank in logic, on models large enough for them; small hand-made placements with many banks),
every emit (hidden, last, every), both port styles and one to three layers; and issue 29's
models: one-hot inputs (looked up, any scheme), an intN head on its own engine (given, and
sized by `--parallel auto`), on both engine styles. A few cases also
hash the board build's design (hw.board.build.build up to the tools: BoardTop around the
core, as amaranth prepares it for the board, without the RTLIL's source-line attributes), so
the bitstream path is held equal too.

`--check` prints each case whose hash changed and exits 1 if any did. Nothing here is a
timing: the figure is equal or not.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

from hw.cli import Parser, run
from hw.errors import UserError
from hw.gen.cli import generate
from hw.gen.manifest import save_manifest
from hw.gen.placement import Placement
from hw.modelfile import EMITS, GATES
from hw.random_model import random_model

CELLS = ("rnn", "gru", "lstm")
SCHEMES = ("binary", "ternary", "pow2-ternary", "exponential", "int4", "int8")
SMALL_BANKS = Placement(bank_depth=2, lutram_bits=64, logic_rom_depth=2)


def cases() -> list[tuple[str, dict, dict]]:
    """(name, random_model arguments, generate arguments) of every case."""
    out = []
    # every cell with every scheme, twice, on the wide-lane engine, the other choices rotating
    foldings = ((1, 1), (2, 2), (1, 4), (3, 8), (2, 1), (1, 2))
    for rep in range(2):
        for i, (cell, scheme) in enumerate((c, s) for s in SCHEMES for c in CELLS):
            j = i + 3 * rep
            k, S = foldings[j % len(foldings)]
            model = dict(cell=cell, scheme=scheme, input_size=3 + j % 4,
                         hidden_size=4 + j % 5, num_layers=1 + (j // 2) % 3,
                         emit=EMITS[(i + i // 3 + rep) % 3], seed=i + 50 * rep,
                         activation=("pwl", "hard")[j % 2])
            gen = dict(parallel=k * GATES[cell], simd=S,
                       storage=("memory", "registers")[(i // 2 + rep) % 2],
                       order=("rows", "columns")[(i // 3 + rep) % 2],
                       board=(None, "icebreaker", "ulx3s")[j % 3],
                       ports=("native", "axis")[int(j % 5 == 4)])
            if j % 7 == 3:
                gen["placement"] = SMALL_BANKS
            out.append((f"wide{rep}-{cell}-{scheme}", model, gen))
    # the unrolled engine: every cell, a few schemes, all or some cell units
    for i, (cell, scheme) in enumerate([("rnn", "ternary"), ("gru", "int8"),
                                        ("lstm", "exponential"), ("gru", "binary"),
                                        ("lstm", "pow2-ternary"), ("rnn", "int4")]):
        model = dict(cell=cell, scheme=scheme, input_size=2 + i % 3, hidden_size=4,
                     num_layers=1 + i % 2, emit=EMITS[i % 3], seed=100 + i)
        gen = dict(parallel="unrolled", cell_units=(None, 2, 1)[i % 3],
                   storage="registers", board=(None, "icebreaker", "ulx3s")[i % 3],
                   ports=("native", "axis")[int(i == 4)])
        out.append((f"unrolled-{cell}-{scheme}", model, gen))
    # --parallel auto on both boards (the fit's search and the walk order it picks)
    for i, (cell, scheme, H) in enumerate([("gru", "ternary", 16), ("lstm", "int8", 8),
                                           ("rnn", "exponential", 24)]):
        for board in ("icebreaker", "ulx3s"):
            model = dict(cell=cell, scheme=scheme, input_size=6, hidden_size=H, outputs=5,
                         emit=("last", "every")[i % 2], seed=200 + i)
            for storage in ("memory",) + (("registers",) if i == 0 else ()):
                out.append((f"auto-{board}-{cell}-{scheme}-{storage}", model,
                            dict(parallel="auto", simd=None, storage=storage, board=board,
                                 order="auto")))
    # a folding given, the walk order chosen (TopPlan.of(order="auto"))
    for i, (cell, P, S) in enumerate([("gru", 3, 8), ("lstm", 12, 2), ("rnn", 2, 4)]):
        model = dict(cell=cell, scheme="ternary", input_size=4, hidden_size=6,
                     emit=EMITS[i], seed=300 + i)
        out.append((f"order-auto-{cell}", model,
                    dict(parallel=P, simd=S, board="icebreaker", order="auto")))
    # the ULX3S's placement with real code banks: block RAM banks and a short last one in
    # logic (found with hw.gen.topplan.TopPlan.memories: gru 44 gives banks of 512 and 38)
    for cell, H, I, P, S, order in [("gru", 44, 4, 6, 2, "rows"), ("lstm", 60, 8, 8, 2, "rows"),
                                    ("rnn", 60, 4, 2, 4, "columns")]:
        model = dict(cell=cell, scheme="ternary", input_size=I, hidden_size=H, outputs=5,
                     emit="every", seed=1)
        out.append((f"ulx3s-banks-{cell}-{H}", model,
                    dict(parallel=P, simd=S, board="ulx3s", order=order)))
    model = dict(cell="gru", scheme="int8", input_size=4, hidden_size=44, outputs=5,
                 emit="last", seed=2)
    out.append(("ulx3s-banks-gru-int8-axis", model,
                dict(parallel=6, simd=2, board="ulx3s", order="columns", ports="axis")))
    return out + mixed_cases()


def mixed_cases() -> list[tuple[str, dict, dict]]:
    """Issue 29's models (from main at dff68a5 on): a one-hot input (its matrix looked up,
    any scheme), an intN head on an engine of its own beside shift-scheme layers, both, on
    either engine style and at `--parallel auto` (which sizes the head engine too)."""
    out = []
    styles = (((1, 2, "rows"), None), ((2, 4, "columns"), (1, 2)), ((2, 4, "rows"), (3, 4)),
              ((1, 1, "columns"), (2, 1)))
    for i, cell in enumerate(CELLS):
        for j, (onehot, in_scheme, head_scheme) in enumerate(
                [(True, "int8", "int8"), (True, "ternary", None), (False, None, "int8"),
                 (True, "exponential", "int4")]):
            (k, S, order), head = styles[(i + j) % len(styles)]
            model = dict(cell=cell, scheme="ternary", input_size=6 if onehot else 3,
                         hidden_size=5, num_layers=1 + (i + j) % 2, outputs=4,
                         emit=("every", "last", "hidden")[(i + 2 * j) % 3], onehot=onehot,
                         input_scheme=in_scheme, head_scheme=head_scheme, seed=400 + 4 * i + j)
            if model["emit"] == "hidden" or head_scheme is None:
                head = None
            gen = dict(parallel=k * GATES[cell], simd=S, order=order,
                       board=(None, "icebreaker", "ulx3s")[(i + j) % 3],
                       storage=("memory", "registers")[j % 2],
                       ports=("native", "axis")[int(j == 3)])
            if head is not None:
                gen["head"] = (head[0] * GATES[cell], head[1])
            out.append((f"mixed-{cell}-{j}", model, gen))
        model = dict(cell=cell, scheme="ternary", input_size=6, hidden_size=4, outputs=3,
                     emit=("every", "last", "hidden")[i], onehot=True,
                     input_scheme="int8", seed=450 + i)
        out.append((f"mixed-unrolled-{cell}", model,
                    dict(parallel="unrolled", storage="registers")))
    # --parallel auto sizes the head engine too (ULX3S: at dff68a5 no mixed model of these
    # sizes fits the iCEBreaker's estimate)
    for cell, H in (("gru", 24), ("lstm", 12)):
        model = dict(cell=cell, scheme="ternary", input_size=20, hidden_size=H, outputs=30,
                     emit="every", onehot=True, input_scheme="int8", head_scheme="int8",
                     seed=460)
        out.append((f"mixed-auto-ulx3s-{cell}", model,
                    dict(parallel="auto", simd=None, board="ulx3s", order="auto")))
    return out


# hw.board.build.build's design, up to the tools, for these cases: (board, case name)
BOARD_CASES = [("icebreaker", "wide0-gru-ternary"), ("ulx3s", "ulx3s-banks-gru-44"),
               ("icebreaker", "unrolled-rnn-ternary"), ("ulx3s", "mixed-gru-0"),
               ("icebreaker", "mixed-lstm-2")]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _generated(model_kw: dict, gen: dict) -> dict[str, str]:
    model = random_model(**model_kw)
    gen = dict(gen)
    parallel = gen.pop("parallel")
    text, man = generate(model, parallel, **gen)
    with tempfile.TemporaryDirectory() as tmp:
        save_manifest(man, Path(tmp) / "manifest.json")
        man_bytes = (Path(tmp) / "manifest.json").read_bytes()
    return {"top.v": _sha(text.encode()), "manifest.json": _sha(man_bytes)}


class _Prepared(Exception):
    pass


def _board_design(board_name: str, model_kw: dict, gen: dict) -> dict[str, str]:
    """The files amaranth prepares for hw.board.build.build's BoardTop (the tools not run):
    the build is stopped where it would start yosys."""
    from hw.board import build as build_mod
    from hw.board import registry

    board = registry.board(board_name)
    files = {}

    def fake_tools(top, board, out_dir, *args, **kw):
        plan = board.platform().prepare(top, name="top")
        for name, content in sorted(plan.files.items()):
            if name.endswith((".il", ".pcf", ".lpf", ".ys", ".sh")):
                text = content if isinstance(content, str) else content.decode()
                # the RTLIL names each cell's source line (and this checkout's path): only
                # the design counts
                text = "\n".join(ln for ln in text.splitlines()
                                 if not ln.lstrip().startswith("attribute \\src "))
                files[name] = _sha(text.encode())
        raise _Prepared

    model = random_model(**model_kw)
    parallel = gen["parallel"]
    kw = {} if parallel == "unrolled" else dict(
        simd=gen.get("simd", 1), order=gen.get("order", "rows"),
        placement=gen.get("placement", board.placement))
    if "head" in gen:
        kw["head"] = gen["head"]
    storage = "registers" if parallel == "unrolled" else gen.get("storage", "memory")
    saved = build_mod._run_tools
    build_mod._run_tools = fake_tools
    try:
        with tempfile.TemporaryDirectory() as tmp:
            build_mod.build(model, board=board, parallel=parallel, clock_hz=board.osc_hz,
                            baud=1_000_000, out_dir=Path(tmp), storage=storage,
                            progress=lambda *a: None, **kw)
    except _Prepared:
        pass
    finally:
        build_mod._run_tools = saved
    return files


def hashes(progress: bool = True) -> dict[str, dict[str, str]]:
    from tqdm import tqdm

    table = cases()
    by_name = {name: (m, g) for name, m, g in table}
    if len(by_name) != len(table):
        raise AssertionError("case names repeat")
    out = {}
    jobs = [(name, None) for name, _, _ in table] + [(name, b) for b, name in BOARD_CASES]
    for name, board in tqdm(jobs, disable=not progress, unit="case"):
        model_kw, gen = by_name[name]
        if board is None:
            out[name] = _generated(model_kw, gen)
        else:
            out[f"board-{board}-{name}"] = _board_design(board, model_kw, gen)
    return out


def main(argv=None) -> int:
    ap = Parser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="write the hashes to this JSON file")
    g.add_argument("--check", help="compare with the hashes in this JSON file")
    args = ap.parse_args(argv)
    if args.check:
        try:
            want = json.loads(Path(args.check).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"--check {args.check}: not a readable JSON file ({e})") from None
    got = hashes()
    if args.out:
        from hw.fileio import atomic_write_text
        atomic_write_text(args.out, json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(got)} cases' hashes to {args.out}")
        return 0
    bad = 0
    for name in sorted(set(want) | set(got)):
        if want.get(name) != got.get(name):
            bad += 1
            diff = sorted(k for k in set(want.get(name, {})) | set(got.get(name, {}))
                          if want.get(name, {}).get(k) != got.get(name, {}).get(k))
            print(f"differs: {name}: {', '.join(diff) or 'missing'}")
    print(f"{len(got) - bad} of {len(set(want) | set(got))} cases byte-identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(run(main))
