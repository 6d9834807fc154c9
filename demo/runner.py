"""Runs the demo's stages, at most `jobs` at a time, each as soon as the stages that make its
inputs have finished (the plan's order breaks ties: the shift-add model's chain first).

With one job a stage's output goes to the terminal; with more, to OUT/logs/STAGE.log and,
prefixed with the stage's name, to the terminal. OUT/times.json records each stage's seconds
(those run now; a stage kept from an earlier run keeps its earlier time).
"""

from __future__ import annotations

import json
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from hw.fileio import atomic_write_text

from .stages import Stage


def needs(plan: list[Stage]) -> dict[str, set[str]]:
    """For each stage, the stages that make one of its inputs."""
    maker = {p: st.name for st in plan for p in st.outputs}
    return {st.name: {maker[p] for p in st.inputs if p in maker and maker[p] != st.name}
            for st in plan}


def run_plan(plan: list[Stage], out: Path, jobs: int = 2) -> dict[str, float]:
    """Run every stage that is not done; return the seconds of each stage run."""
    n, index = len(plan), {st.name: i for i, st in enumerate(plan, 1)}
    deps, by = needs(plan), {st.name: st for st in plan}
    times_path = out / "times.json"
    times = json.loads(times_path.read_text()) if times_path.is_file() else {}
    finished: set[str] = set()
    pending = [st.name for st in plan]
    running: dict = {}

    def start(pool, st: Stage):
        head = f"[{index[st.name]}/{n}] {st.name}: {st.what}"
        if st.done():
            print(f"{head}: done before, kept", flush=True)
            return None
        log = out / "logs" / f"{st.name}.log" if jobs > 1 else None
        if log is not None and log.exists():
            log.unlink()
        print(head + (f" (log: {log})" if log else ""), flush=True)
        return pool.submit(st.run, log)

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        while pending or running:
            for name in list(pending):
                if len(running) >= jobs:
                    break
                if deps[name] <= finished:
                    pending.remove(name)
                    fut = start(pool, by[name])
                    if fut is None:
                        finished.add(name)
                    else:
                        running[fut] = name
            if not running:
                if pending:  # only a plan whose stages wait on each other
                    raise RuntimeError(f"stages {pending} wait on each other")
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                name = running.pop(fut)
                if fut.exception() is not None:
                    wait(running)  # let the others finish (their work is kept); start none
                    raise fut.exception()
                times[name] = round(fut.result(), 1)
                finished.add(name)
                print(f"[{index[name]}/{n}] {name} finished in {times[name]:.0f} s", flush=True)
                atomic_write_text(times_path, json.dumps(times, indent=1) + "\n")
    return times
