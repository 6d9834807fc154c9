"""`python -m hw verilog`: files, manifest, user errors, and multipliers counted by yosys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw.__main__ import main as hw_main
from hw.board.registry import BOARDS
from hw.gen.cli import generate
from hw.gen.manifest import verilog_ports
from hw.gen.stat import cell_counts
from hw.modelfile import load, save
from hw.random_model import random_model


@pytest.fixture
def run_dir(tmp_path):
    model = random_model(cell="gru", scheme="ternary", input_size=3, hidden_size=4, outputs=3)
    save(model, tmp_path / "model.json")
    return tmp_path


@pytest.mark.parametrize("parallel", ["3", "unrolled"])
def test_writes_top_and_manifest(run_dir, parallel, capsys):
    assert hw_main(["verilog", str(run_dir / "model.json"), "--parallel", parallel,
                    "--out", str(run_dir / "out")]) == 0
    text = (run_dir / "out" / "top.v").read_text()
    man = json.loads((run_dir / "out" / "manifest.json").read_text())
    assert sorted(p.name for p in (run_dir / "out").iterdir()) == ["manifest.json", "top.v"]
    assert man["top"] == "top" and man["clock"] == "clk" and man["reset"] == "rst"
    assert man["parallel"] == (parallel if parallel == "unrolled" else int(parallel))
    assert (man["cell"], man["hidden_size"], man["input_size"], man["num_layers"]) == \
        ("gru", 4, 3, 1)
    assert man["emit"] == "last"
    ports = verilog_ports(text)
    assert ports == {"clk", "rst", man["input"]["valid"], man["input"]["ready"],
                     man["input"]["payload"], man["output"]["valid"], man["output"]["ready"],
                     man["output"]["payload"]}
    fi, fo = man["input"]["fields"], man["output"]["fields"]
    assert fi["data"] == {"offset": 0, "count": 3, "width": 8, "signed": True}
    assert fi["first"]["offset"] == 24 and fi["last"]["offset"] == 25
    assert man["input"]["payload_width"] == 26
    assert fo["data"]["count"] == 3 and fo["data"]["width"] == 16
    assert fo["argmax"]["offset"] == 48 and fo["argmax"]["width"] == 2
    assert man["output"]["payload_width"] == 51
    for name, port in [("input", "i__payload"), ("output", "o__payload")]:
        width = man[name]["payload_width"]
        decl = f"[{width - 1}:0] {port};"
        assert decl in text, f"{port} is not {width} bits wide in top.v"
    assert "wrote" in capsys.readouterr().out


def test_storage_and_folding_in_the_manifest(run_dir, capsys):
    out = run_dir / "reg"
    assert hw_main(["verilog", str(run_dir / "model.json"), "--parallel", "6", "--simd", "2",
                    "--storage", "registers", "--out", str(out)]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["storage"] == man["resources"]["storage"] == "registers"
    assert (man["parallel"], man["simd"], man["lanes"]) == (6, 2, 6)
    _, mem = generate(load(run_dir / "model.json"), 6, simd=2)
    assert mem.storage == "memory"
    # the same memories, as flip-flops: the same cycles
    assert man["cycles_per_step"] == mem.cycles_per_step
    assert man["latency"] == mem.latency


def test_order_in_the_manifest(run_dir, capsys):
    """--order rows|columns is written to the manifest; auto (the default) takes the one with
    fewer cycles per step for the folding."""
    cycles = {}
    for order in ("rows", "columns", "auto"):
        out = run_dir / order
        assert hw_main(["verilog", str(run_dir / "model.json"), "--parallel", "3", "--simd",
                        "2", "--order", order, "--out", str(out)]) == 0
        man = json.loads((out / "manifest.json").read_text())
        assert man["order"] == order or order == "auto"
        cycles[order] = (man["cycles_per_step"], man["order"])
    assert cycles["auto"] == cycles[cycles["auto"][1]]
    assert cycles["auto"][0] == min(cycles["rows"][0], cycles["columns"][0])


def test_parallel_auto_sizes_the_engine_for_the_board(run_dir, capsys):
    """auto picks the folding with the most steps per second that fits (an exact cycle
    count for each; a bigger board allows at least as many weights per cycle)."""
    chosen = {}
    for board in ("icebreaker", "ulx3s"):
        out = run_dir / board
        assert hw_main(["verilog", str(run_dir / "model.json"), "--parallel", "auto",
                        "--board", board, "--out", str(out)]) == 0
        chosen[board] = man = json.loads((out / "manifest.json").read_text())
        assert man["parallel"] % 3 == 0 and man["simd"] & (man["simd"] - 1) == 0
        roof = man["roofline"]
        assert 0 < roof["fraction_of_bound"] <= 1
        assert roof["weights_per_cycle"] == round(man["weights_per_step"]
                                                  / man["cycles_per_step"], 2)
    assert chosen["ulx3s"]["cycles_per_step"] <= chosen["icebreaker"]["cycles_per_step"]
    assert hw_main(["verilog", str(run_dir / "model.json"), "--parallel", "auto", "--simd",
                    "2"]) == 2
    assert "--simd is chosen by --parallel auto" in _err(capsys)


def test_parallel_auto_makes_a_design_with_spram_reloadable(tmp_path, capsys):
    """An exponential GRU 96 fits only with its codes in the iCE40UP5K's SPRAM (hw.gen.fit):
    SPRAM has no initial contents, so --parallel auto builds that design reloadable, says so
    in one note, and the manifest says a load must fill it after power-up; the same with
    --reloadable asked gives no note."""
    save(random_model(cell="gru", scheme="exponential", input_size=16, hidden_size=96,
                      outputs=10, seed=0), tmp_path / "model.json")
    for asked in (False, True):
        out = tmp_path / str(asked)
        assert hw_main(["verilog", str(tmp_path / "model.json"), "--board", "icebreaker",
                        "--out", str(out)] + ["--reloadable"] * asked) == 0
        man = json.loads((out / "manifest.json").read_text())
        assert man["placement"]["huge"] == ["codes"]
        assert man["reload"]["preloaded"] is False
        assert man["options"].get("reloadable", False) is asked  # as given
        notes = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("note:")]
        assert notes == ([] if asked else [
            f"note: this design keeps codes in the icebreaker's SPRAM, which has no initial "
            f"contents: built it reloadable; after each power-up, load the weights with "
            f"python -m hw load {out} --port PORT"])


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_user_errors(run_dir, capsys, tmp_path):
    model = str(run_dir / "model.json")
    assert hw_main(["verilog", model, "--parallel", "0"]) == 2
    assert "--parallel must be a positive integer, 'auto' or 'unrolled', not '0'" in _err(capsys)
    assert hw_main(["verilog", model, "--parallel", "many"]) == 2
    assert "not 'many'" in _err(capsys)
    assert hw_main(["verilog", str(tmp_path / "missing.json")]) == 2
    assert "cannot read model file" in _err(capsys)
    (tmp_path / "bad.json").write_text("{")
    assert hw_main(["verilog", str(tmp_path / "bad.json")]) == 2
    assert "is not valid JSON" in _err(capsys)
    (tmp_path / "afile").write_text("x")
    assert hw_main(["verilog", model, "--out", str(tmp_path / "afile")]) == 2
    assert "exists and is not a folder" in _err(capsys)
    assert hw_main(["verilog", model, "--parallel", "4"]) == 2
    assert "parallel (lanes) must be a multiple of the 3 gate rows of a gru unit, not 4" \
        in _err(capsys)
    assert hw_main(["verilog", model, "--parallel", "3", "--simd", "3"]) == 2
    assert "simd must be a power of two, not 3" in _err(capsys)
    assert hw_main(["verilog", model, "--parallel", "unrolled", "--cell-units", "3"]) == 2
    assert "cell units must be a positive divisor of the hidden size 4, not 3" in _err(capsys)
    d = json.loads((run_dir / "model.json").read_text())
    d["meta"]["emit"] = "never"
    (tmp_path / "emit.json").write_text(json.dumps(d))
    assert hw_main(["verilog", str(tmp_path / "emit.json")]) == 2
    assert "meta.emit is 'never'" in _err(capsys)
    assert not (run_dir / "top.v").exists()


@pytest.mark.parametrize("scheme", ["ternary", "exponential", "int8"])
@pytest.mark.parametrize("parallel", [3, "unrolled"])
def test_yosys_multipliers(scheme, parallel):
    """Shift schemes: the only $mul cells are the element-wise gate products the manifest
    counts. int8: the weight multipliers are there too, as many as the manifest says."""
    model = random_model(cell="gru", scheme=scheme, input_size=3, hidden_size=4, outputs=3)
    for _, m in model.matrices():
        # no zero weights: a constant gate would let yosys fold a product into a shift
        m.codes[m.codes == 0] = 1
    text, man = generate(model, parallel)
    res = man.resources
    muls = cell_counts(text).get("$mul", 0)
    assert res["elementwise_multipliers"] > 0
    if scheme == "int8":
        assert res["multipliers"] > 0
        assert muls == res["elementwise_multipliers"] + res["multipliers"]
    else:
        assert res["multipliers"] == 0
        assert muls == res["elementwise_multipliers"]


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_parallel_auto_counts_the_dsp_blocks(cell):
    """An int8 model's weight products and the cell's own multipliers each take a DSP block:
    auto stays within the iCEBreaker's 8 (an int8 LSTM 16 once got 16 lanes' worth and needed
    19), and more products a cycle would have been faster had they fitted."""
    from hw.gen.fit import estimate
    from hw.gen.topplan import TopPlan

    model = random_model(cell=cell, scheme="int8", input_size=8, hidden_size=16, outputs=10,
                         seed=0)
    dev = BOARDS["icebreaker"].device
    f = estimate(TopPlan.auto(model, dev, image=False), dev)
    res = TopPlan.of(model, parallel=f.parallel, simd=f.simd, image=False).resources
    assert f.dsps == res["multipliers"] + res["elementwise_multipliers"] <= dev.dsps
    wider = estimate(TopPlan.of(model, parallel=f.parallel, simd=2 * f.simd, image=False), dev)
    assert wider.dsps > dev.dsps and wider.steps_per_s > f.steps_per_s


def test_parallel_auto_counts_exponential_shifters():
    """Exponential codes cost a shifter per term (per shift level) and wider finalizer selects:
    the GRU 8 at 3 x 8 (once chosen by an estimate without them and built at 5553 of 5280 logic
    cells; packed at 5134 by the current generator) is estimated that much above the ternary
    one, and auto's choice for it is within the board's share."""
    from hw.gen import fit
    from hw.gen.fit import estimate
    from hw.gen.topplan import TopPlan

    dev = BOARDS["icebreaker"].device
    exp = random_model(cell="gru", scheme="exponential", input_size=8, hidden_size=8,
                       outputs=10, seed=0)
    tern = random_model(cell="gru", scheme="ternary", input_size=8, hidden_size=8,
                        outputs=10, seed=0)
    e = estimate(TopPlan.of(exp, parallel=3, simd=8, image=False), dev)
    t = estimate(TopPlan.of(tern, parallel=3, simd=8, image=False), dev)
    assert e.luts > t.luts
    K = TopPlan.of(exp, parallel=3, simd=8, image=False).lanes.K
    extra = (fit.extra_shifts(TopPlan.of(exp, parallel=3, simd=8, image=False))
             - fit.extra_shifts(TopPlan.of(tern, parallel=3, simd=8, image=False)))
    assert abs(e.luts - t.luts - (dev.luts_per_shift_level * 24 * K
                                  + dev.luts_per_select * 3 * extra)) <= 1  # rounding
    f = estimate(TopPlan.auto(exp, dev, image=False), dev)
    assert f.parallel * f.simd < 24 and f.luts <= dev.lut_room("gru")


def test_parallel_auto_says_what_the_smallest_folding_lacks(tmp_path):
    """A model no folding of which fits is refused in one line naming what its smallest
    folding needs more of (int16 codes, the float model's export: a GRU 128's 52,224 x 16
    bits, more than the block RAM and the SPRAM hold)."""
    from hw.errors import UserError
    from hw.gen.fit import estimate, over
    from hw.gen.topplan import TopPlan

    dev = BOARDS["icebreaker"].device
    model = random_model(cell="gru", scheme="int16", input_size=8, hidden_size=128,
                         outputs=10, seed=0)
    save(model, tmp_path / "model.json")
    smallest = estimate(TopPlan.of(model, parallel=3, simd=1, image=False).on(dev), dev)
    lacks = over(smallest, dev)
    assert lacks == [f"{smallest.brams} block RAMs of {dev.brams_for_design}"]
    with pytest.raises(UserError, match=rf"no folding of this gru 128 fits the iCE40UP5K: "
                                        rf"the smallest \(3 lanes x 1 column\) needs about "
                                        rf"{lacks[0]} \(estimated\)"):
        from hw.gen.cli import generate_run
        from hw.gen.options import GenerateOptions

        generate_run(tmp_path / "model.json", GenerateOptions(board="icebreaker"))


def test_a_short_last_code_bank_is_built_in_logic():
    """Placement.logic_rom_depth: the code banks after the first that hold at most that
    many words are logic, not block RAM (a short last bank would take as many blocks as a
    full one). Checked in yosys' ECP5 mapping: one DP16KD fewer, and the fit's estimate
    trades that bank's blocks for LUTs."""
    import subprocess
    import tempfile

    from hw.gen.fit import bram_blocks, estimate
    from hw.gen.placement import Placement
    from hw.gen.stat import yosys_command
    from hw.gen.topplan import TopPlan

    model = random_model(cell="gru", scheme="ternary", input_size=3, hidden_size=8, outputs=3,
                         seed=0)
    dev = BOARDS["ulx3s"].device
    blocks, fits = [], []
    for depth in (0, 8):
        pl = Placement(bank_depth=16, logic_rom_depth=depth)
        tp = TopPlan.of(model, parallel=3, simd=2, placement=pl)
        mems = tp.memories()
        styles = [tp.memory_style(*nwd) for nwd in mems]
        last = max(i for i, (n, _, _) in enumerate(mems) if n.startswith("codes"))
        assert mems[last][2] <= 8 < mems[0][2], "the test needs a short last bank"
        assert styles[last] == ("logic" if depth else "block")
        assert styles[:last] == ["block"] * last  # the full banks stay in block RAM
        fits.append((estimate(tp, dev), mems[last]))
        text, man = generate(model, 3, simd=2, placement=pl, order="rows")
        assert man.placement["logic_rom_depth"] == depth
        with tempfile.TemporaryDirectory(prefix="shiftrnn-rom-") as tmp:
            Path(tmp, "top.v").write_text(text)
            subprocess.run([yosys_command(), "-q", "-p", "read_verilog top.v; synth_ecp5 -top "
                            "top; tee -q -o stat.json stat -json"], cwd=tmp, check=True,
                           capture_output=True)
            stat = json.loads(Path(tmp, "stat.json").read_text())
        blocks.append(stat["modules"]["\\top"]["num_cells_by_type"].get("DP16KD", 0))
    assert blocks[1] == blocks[0] - 1 > 0
    (block, (_, w, d)), (logic, _) = fits
    assert logic.brams == block.brams - bram_blocks(w, d, dev)
    assert logic.luts == block.luts + w * -(-d // 16)


def test_placement_reads_manifests_without_the_logic_rom_depth():
    from hw.gen.placement import Placement
    from hw.gen.topplan import check_folding

    assert Placement.from_dict({"bank_depth": 512, "lutram_bits": 4096}) == \
        Placement(512, 4096, 0)
    model = random_model(cell="gru", scheme="ternary", input_size=3, hidden_size=4, outputs=3)
    with pytest.raises(ValueError, match="logic ROM depth must be a non-negative integer, "
                                         "not -1"):
        check_folding(model, 3, 1, "memory", Placement(16, 0, -1))


def test_a_mixed_model_gets_a_head_engine_and_the_manifest_says_so(tmp_path):
    """An int8 head beside ternary layers and a one-hot input: the manifest lists each pass's
    schemes, engine and cycles, and the head's own engine; --head-parallel/--head-simd set it
    (with --parallel P), and are refused with --parallel auto, which chooses it."""
    from hw.modelfile import save
    from hw.random_model import random_model

    model = random_model(cell="gru", scheme="ternary", input_scheme="int8", head_scheme="int8",
                         input_size=7, hidden_size=4, outputs=5, emit="every", onehot=True)
    save(model, tmp_path / "model.json")
    assert hw_main(["verilog", str(tmp_path / "model.json"), "--parallel", "6", "--simd", "2",
                    "--head-parallel", "3", "--head-simd", "2"]) == 0
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["head"] == [3, 2] and man["resources"]["multipliers"] == 6
    layer, head = man["passes"]
    assert layer["lookup"] and not layer["multiplies"] and layer["engine"] == "lanes"
    assert layer["schemes"] == {"w_ih": "int8", "w_hh": "ternary"}
    assert head["engine"] == "head" and head["multiplies"] and head["lanes"] == 3
    assert hw_main(["verilog", str(tmp_path / "model.json"), "--head-parallel", "3"]) == 2
    assert hw_main(["verilog", str(tmp_path / "model.json"), "--board", "ulx3s"]) == 0
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["head"] is not None and man["resources"]["multipliers"] == man["head"][0] * \
        man["head"][1]


def test_output_option_streams_or_refuses_in_one_line(tmp_path, capsys):
    """--output serial streams a wide head's outputs (the manifest's `end` field, kept in the
    options as asked); it is refused with --parallel auto or unrolled and on a design whose
    layers are shorter than the readout; --output beat keeps 20 outputs in one beat."""
    save(random_model(cell="gru", scheme="ternary", input_size=4, hidden_size=8, outputs=20,
                      emit="every"), tmp_path / "model.json")
    model = str(tmp_path / "model.json")
    for output, serial in (("serial", True), ("beat", False), ("auto", True)):
        out = tmp_path / output
        assert hw_main(["verilog", model, "--parallel", "3", "--output", output,
                        "--out", str(out)]) == 0
        man = json.loads((out / "manifest.json").read_text())
        assert ("end" in man["output"]["fields"]) is serial
        assert man["options"].get("output", "auto") == output
    for extra, words in ((["--parallel", "auto"], "--output serial takes a given --parallel"),
                         (["--parallel", "unrolled"], "--output serial is for the time-"),
                         (["--parallel", "24", "--simd", "8"], "a streamed output reads its 20")):
        assert hw_main(["verilog", model, "--output", "serial", "--out",
                        str(tmp_path / "x")] + extra) == 2
        err = _err(capsys)
        assert words in err and len(err.strip().splitlines()) == 1
