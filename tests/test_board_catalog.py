"""hw/board/registry.py: one record per board (pins, family, calibration); amaranth-boards
platforms as boards by name, or one line on what a board lacks; a derived board's build plan
carries the model and the UART pins, and it has no calibration for --parallel auto."""

import pytest

from hw.board import registry
from hw.board.registry import BOARDS
from hw.board.top import BoardTop
from hw.errors import UserError
from hw.gen.topplan import TopPlan
from hw.random_model import random_model


def test_the_measured_boards_are_unchanged():
    assert registry.board("icebreaker") is BOARDS["icebreaker"] and BOARDS["ulx3s"].pll


@pytest.mark.parametrize("name,family,osc,ext", [
    ("ice40_hx8k_b_evn", "ice40", 12_000_000, "bin"),
    ("ecp5_5g_evn", "ecp5", 12_000_000, "bit"),
    ("versa_ecp5", "ecp5", 100_000_000, "bit"),
    ("icestick", "ice40", 12_000_000, "bin"),
])
def test_derived_boards(name, family, osc, ext):
    b = registry.board(name)
    assert (b.name, b.family, b.osc_hz, b.bitstream_ext, b.pll) == (name, family, osc, ext, False)
    assert b.platform().device.startswith("iCE40" if family == "ice40" else "LFE5U")
    assert b.pll_config(osc) is None
    assert b.dsp_blocks == (family == "ecp5")  # the HX parts have no DSP blocks
    with pytest.raises(ValueError, match="no PLL set-up for this board"):
        b.pll_config(2 * osc)


@pytest.mark.parametrize("name,message", [
    ("orangecrab_r0_2", "has 3 platforms; name one as orangecrab_r0_2:CLASS"),
    ("orangecrab_r0_2:OrangeCrabR0_2_85FPlatform", "has no 'uart' resource"),
    ("arty_a7:ArtyA7_35Platform", "is a xc7a35ti board; the YoWASP tools .* iCE40 and ECP5"),
    ("upduino_v3", "no clock pin as its default clock \\('SB_HFOSC'\\)"),
    ("de0_nano", "not one of icebreaker, ulx3s nor a module of amaranth_boards"),
    ("icestick:Nope", "has no platform 'Nope'"),
    ("../x", "not one of icebreaker, ulx3s nor an amaranth_boards module name"),
])
def test_boards_the_flow_cannot_use_get_one_line(name, message):
    with pytest.raises(UserError, match=message) as e:
        registry.board(name)
    assert "\n" not in str(e.value)


def test_a_derived_board_plan_has_the_uart_pins(tmp_path):
    b = registry.board("ice40_hx8k_b_evn")
    model = random_model(cell="gru", input_size=2, hidden_size=2, outputs=2, seed=1)
    core = TopPlan.of(model, parallel=3).create()
    top = BoardTop(core, board=b, clock_hz=b.osc_hz, baud=115200, emit=core.emit, fingerprint=7)
    plan = b.platform().build(top, name="top", build_dir=str(tmp_path), do_build=False)
    files = plan.files
    pcf = files["top.pcf"].decode() if isinstance(files["top.pcf"], bytes) else files["top.pcf"]
    uart = b.platform().resources["uart", 0]
    pins = {s.ios[0].names[0] for s in uart.ios if s.name in ("rx", "tx")}
    assert all(f" {p}" in pcf for p in pins) and "--hx8k" in files["build_top.sh"]


def test_bitstream_command_with_derived_boards(tmp_path, capsys):
    from hw.__main__ import main as hw_main
    from hw.modelfile import save

    save(random_model(cell="rnn", input_size=2, hidden_size=3, seed=0), tmp_path / "model.json")
    assert hw_main(["bitstream", str(tmp_path), "--board", "nosuchboard"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown board 'nosuchboard'")
    assert hw_main(["bitstream", str(tmp_path), "--board", "ice40_hx8k_b_evn",
                    "--clock-mhz", "24"]) == 2
    assert capsys.readouterr().err == ("error: the ice40_hx8k_b_evn runs at its oscillator's "
                                       "12 MHz (no PLL set-up for this board), not 24 MHz\n")
    assert not list(tmp_path.glob("build-*")) and not (tmp_path / "bitstream.json").exists()
