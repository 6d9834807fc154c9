"""The generated top in a small C++ Verilator harness: many steps a second, no cocotb.

`build(top_v, manifest, folder)` compiles top.v with our own C++ driver (written into the
build folder); `run(exe, man, segments, ...)` streams segments of sequences through it and
returns the output beats of each segment. Python packs the input beats and unpacks the output
beats by the manifest's field offsets (hw.gen.manifest), so widths, port names and the reset's
polarity are never restated; each payload port travels as 32-bit words (Verilator's VlWide
past 64 bits), the ports of a payload one after the other (`--ports axis` splits a payload).

Stimulus semantics (those of hw.gen.simulate's reset_cycle): each segment is a list of closed
sequences (the first beat of each sets `first`, the last `last`); before every segment but the
first, the reset is pulsed for one cycle (valid and ready low), `reset_at` cycles after the
previous segment started, wherever the circuit is; what the source offered is dropped and the
stream restarts with the next segment. The beats a cut segment sent before its reset must be a
prefix of its expected beats; the final segment must send exactly its expected beats. The
harness also checks the output stream rule (a valid beat holds, unchanged, until taken) and
fails a run that makes no handshake for `limit` cycles. A reloadable top's segment may begin
with a load (`Segment.load`): after the reset, each word is written through the top's load
port (hw.gen.loadport) once its `ready` is high, no beat offered meanwhile.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hw.gen.manifest import Manifest, Stream

from .runner import BUILD_ARGS, _make_overrides, tool_env

MAGIC = 0x50414B53
NONE = 0xFFFFFFFF

HARNESS = r"""// soak harness: written by sim/verilated.py for one generated top.v
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <vector>
#include <type_traits>
#include "verilated.h"
#include "Vtop.h"

template <class T> static void put(T& p, const uint32_t* w, int n) {
  if constexpr (std::is_integral_v<T>) {
    uint64_t v = w[0];
    if (n > 1) v |= (uint64_t)w[1] << 32;
    p = (T)v;
  } else {
    for (int i = 0; i < n; i++) p[i] = w[i];
  }
}
template <class T> static void get(const T& p, uint32_t* w, int n) {
  if constexpr (std::is_integral_v<T>) {
    uint64_t v = (uint64_t)p;
    w[0] = (uint32_t)v;
    if (n > 1) w[1] = (uint32_t)(v >> 32);
  } else {
    for (int i = 0; i < n; i++) w[i] = p[i];
  }
}
PAYLOAD_MACROS
static uint64_t rs;
static uint32_t rnd() {  // xorshift64*
  rs ^= rs >> 12; rs ^= rs << 25; rs ^= rs >> 27;
  return (uint32_t)((rs * 2685821657736338717ULL) >> 32);
}
static void fail(const char* msg, long long cyc) {
  printf("error cycle %lld: %s\n", cyc, msg);
  exit(3);
}

int main(int argc, char** argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s IN OUT\n", argv[0]); return 2; }
  FILE* f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 2; }
  std::vector<uint32_t> in;
  uint32_t buf[4096];
  size_t got;
  while ((got = fread(buf, 4, 4096, f)) > 0) in.insert(in.end(), buf, buf + got);
  fclose(f);
  size_t p = 0;
  auto next = [&]() -> uint32_t {
    if (p >= in.size()) { fprintf(stderr, "stimulus file too short\n"); exit(2); }
    return in[p++];
  };
  if (next() != MAGIC_) { fprintf(stderr, "bad stimulus file\n"); return 2; }
  const int NI = next(), NO = next();
  const uint32_t nseg = next(), stall = next(), seed = next(), span = next(), drain = next();
  const uint32_t limit = next();
  rs = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed << 17) ^ seed;
  FILE* o = fopen(argv[2], "wb");
  if (!o) { perror(argv[2]); return 2; }
  Vtop* top = new Vtop;
  top->clk = 0; top->rst = RST_ON; top->I_VALID = 0; top->O_READY = 0;
  long long cyc = 0, accepted = 0, beats = 0;
  auto tick = [&]() { top->clk = 1; top->eval(); top->clk = 0; top->eval(); cyc++; };
  top->eval();
  tick(); tick();
  top->rst = RST_OFF;
  std::vector<uint32_t> word(NI), ow(NO), held(NO);
  uint32_t hold = 0;
  for (uint32_t s = 0; s < nseg; s++) {
    const uint32_t nbeats = next(), reset_at = next(), want = next(), nload = next();
    const uint32_t* load = in.data() + p;
    p += (size_t)nload * 4;
    const uint32_t* beat = in.data() + p;
    p += (size_t)nbeats * (1 + NI);
    if (p > in.size()) { fprintf(stderr, "stimulus file too short\n"); return 2; }
    if (s > 0) {  // rst for one cycle; the source's offer is gone
      top->rst = RST_ON; top->I_VALID = 0; top->O_READY = 0; top->eval();
      tick();
      top->rst = RST_OFF;
    }
    top->I_VALID = 0; top->O_READY = 1;
    for (uint32_t w = 0; w < nload; w++) {  // each word once the load port is ready
      const uint32_t* lw = load + (size_t)w * 4;
      long long waited = 0;
      LOAD_WRITE
    }
    long long start = cyc, last_hs = cyc;
    uint32_t k = 0, idle = nbeats ? beat[0] : 0, got_beats = 0;
    bool offered = false, holding = false;
    while (true) {
      long long c = cyc - start;
      if (reset_at != NONE_) {
        if (c >= reset_at) break;
      } else if (k >= nbeats && got_beats >= want) {
        break;
      }
      if (!offered && k < nbeats) {
        if (idle) idle--;
        else { offered = true; PUT_I_PAYLOAD(beat + (size_t)k * (1 + NI) + 1); }
      }
      top->I_VALID = offered;
      if (hold == 0 && stall && rnd() % 1000 < stall)
        hold = (rnd() % 10 < 8) ? 1 : 1 + rnd() % span;
      const bool ready = hold == 0;
      if (hold) hold--;
      top->O_READY = ready;
      top->eval();
      const bool iready = top->I_READY, ovalid = top->O_VALID;
      if (ovalid) GET_O_PAYLOAD(ow.data());
      if (holding && (!ovalid || ow != held))
        fail("an output beat changed or vanished before it was taken", cyc);
      holding = ovalid && !ready;
      if (holding) held = ow;
      if (ovalid && ready) {
        fwrite(&s, 4, 1, o); fwrite(ow.data(), 4, NO, o);
        got_beats++; beats++; last_hs = cyc;
      }
      if (offered && iready) {
        offered = false; k++; accepted++; last_hs = cyc;
        if (k < nbeats) idle = beat[(size_t)k * (1 + NI)];
      }
      tick();
      if (cyc - last_hs > (long long)limit) {
        printf("error cycle %lld: no handshake for %u cycles in segment %u: %u of %u beats in, "
               "%u of %u out\n", cyc, limit, s, k, nbeats, got_beats, want);
        fclose(o);
        return 3;
      }
    }
    printf("segment %u accepted %u\n", s, k);
  }
  // nothing offered: no further beat may come
  top->I_VALID = 0; top->O_READY = 1;
  for (uint32_t d = 0; d < drain; d++) {
    top->eval();
    if (top->O_VALID) {
      GET_O_PAYLOAD(ow.data());
      uint32_t s = nseg - 1;
      fwrite(&s, 4, 1, o); fwrite(ow.data(), 4, NO, o);
      beats++;
    }
    tick();
  }
  fclose(o);
  printf("done cycles %lld accepted %lld beats %lld\n", cyc, accepted, beats);
  top->final();
  delete top;
  return 0;
}
"""


class HarnessError(RuntimeError):
    """The harness stopped: a broken stream rule, a stuck design, a failed build."""


@dataclass
class Segment:
    """Closed sequences fed back to back; `reset_at`: cycles after the segment starts at
    which rst cuts it (None: the final segment, run to its last expected beat)."""

    sequences: list[np.ndarray]
    idle: list[np.ndarray]  # idle cycles before each beat of each sequence
    reset_at: int | None = None
    want: int = 0  # expected output beats (the final segment)
    # bytes written through a reloadable top's load port before the segment's first beat:
    # (memory id, address, byte lane, byte) (hw.gen.simulate.load_writes)
    load: list = field(default_factory=list)


@dataclass
class RunOut:
    beats: list[list[dict]] = field(default_factory=list)  # per segment, unpacked beats
    accepted: list[int] = field(default_factory=list)  # input beats taken, per segment
    cycles: int = 0


def _words(width: int) -> int:
    return max(1, -(-width // 32))


def cpp_name(port: str) -> str:
    """The C++ member Verilator gives a port: each "__" is encoded ("_" + "__05F")."""
    out, k = [], 0
    while k < len(port):
        if port.startswith("__", k):
            out.append("___05F")
            k += 2
        else:
            out.append(port[k])
            k += 1
    return "".join(out)


def _port_words(stream: Stream) -> list[tuple[str, int, int]]:
    """(port, first word, words) of each payload port in a beat's 32-bit words."""
    out, at = [], 0
    for port, _, width in stream.ports:
        out.append((port, at, _words(width)))
        at += _words(width)
    return out


def _macro(name: str, fn: str, stream: Stream) -> str:
    calls = " ".join(f"{fn}(top->{cpp_name(p)}, (w) + {at}, {n});"
                     for p, at, n in _port_words(stream))
    return f"#define {name}(w) do {{ {calls} }} while (0)"


def harness_source(man: Manifest) -> str:
    names = {"I_VALID": man.input.valid, "I_READY": man.input.ready,
             "O_VALID": man.output.valid, "O_READY": man.output.ready}
    names = {k: cpp_name(v) for k, v in names.items()}
    macros = "\n".join([_macro("PUT_I_PAYLOAD", "put", man.input),
                        _macro("GET_O_PAYLOAD", "get", man.output)])
    on = int(not man.reset_active_low)
    text = HARNESS.replace("MAGIC_", f"0x{MAGIC:08X}u").replace("NONE_", f"0x{NONE:08X}u")
    text = text.replace("PAYLOAD_MACROS", macros).replace("RST_ON", str(on)) \
        .replace("RST_OFF", str(1 - on))
    for k, v in names.items():
        text = text.replace(k, v)
    text = text.replace("LOAD_WRITE", _load_write(man))
    if man.top != "top" or man.clock != "clk" or man.reset != "rst":
        text = text.replace("Vtop", f"V{man.top}").replace("->clk", f"->{man.clock}") \
            .replace("->rst", f"->{man.reset}")
    return text


def _load_write(man: Manifest) -> str:
    """The harness's code that writes byte `lw` (memory, address, lane, byte) of a load."""
    if man.reload is None:
        return 'fail("a load for a top without a load port", cyc);'
    pt = {k: "top->" + cpp_name(v["port"]) for k, v in man.reload["ports"].items()}
    return (f"while (!{pt['ready']}) {{ tick(); if (++waited > (long long)limit) "
            f"fail(\"the load port was never ready\", cyc); }}\n"
            f"      {pt['mem']} = lw[0]; {pt['addr']} = lw[1]; {pt['lane']} = lw[2]; "
            f"{pt['data']} = lw[3];\n"
            f"      {pt['en']} = 1; tick(); {pt['en']} = 0;")


def build(top_v, man: Manifest, folder, log=None) -> Path:
    """Compile top.v and the harness in `folder` (one job, niced); the executable's path."""
    tool_env()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "harness.cpp").write_text(harness_source(man))
    env = dict(os.environ)
    flags = _make_overrides("verilator")
    if flags is not None:
        env["MAKEFLAGS"] = flags
    cmd = ["nice", "-n", "10", "verilator", "--cc", "--exe", "--build", "-O2", "-j", "1",
           *BUILD_ARGS["verilator"], "--top-module", man.top, "--Mdir", str(folder / "obj"),
           "-o", "Vsoak", str(Path(top_v).resolve()), str(folder / "harness.cpp")]
    r = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    (folder / "build.log").write_text(r.stdout + r.stderr)
    exe = folder / "obj" / "Vsoak"
    if r.returncode or not exe.is_file():
        raise HarnessError(f"verilator build failed (exit {r.returncode}); see "
                           f"{folder / 'build.log'}: {(r.stdout + r.stderr)[-600:]}")
    return exe


def _word_array(value: int, n: int) -> list[int]:
    return [(value >> (32 * i)) & 0xFFFFFFFF for i in range(n)]


def beat_words(stream: Stream, word: int) -> list[int]:
    """A payload integer as the harness's 32-bit words, port after port."""
    return [w for v, (_, _, width) in zip(stream.split(word), stream.ports, strict=True)
            for w in _word_array(v, _words(width))]


def beat_value(stream: Stream, words) -> int:
    """The payload integer from the harness's 32-bit words (inverse of beat_words)."""
    vals = []
    for _, at, n in _port_words(stream):
        vals.append(sum(int(words[at + i]) << (32 * i) for i in range(n)))
    return stream.join(vals)


def beat_word_count(stream: Stream) -> int:
    return sum(n for _, _, n in _port_words(stream))


def write_stimulus(path, man: Manifest, segments: list[Segment], *, stall: float, seed: int,
                   limit: int) -> None:
    ni, no = beat_word_count(man.input), beat_word_count(man.output)
    span = max(1, man.cycles_per_step + man.latency + 1)
    drain = man.latency + man.cycles_per_step + 4
    head = [MAGIC, ni, no, len(segments), int(round(stall * 1000)), seed & 0xFFFFFFFF, span,
            drain, limit]
    out = [np.array(head, dtype=np.uint32)]
    for seg in segments:
        rows = []
        for x, idle in zip(seg.sequences, seg.idle, strict=True):
            T = len(x)
            for t in range(T):
                word = man.input.pack(data=x[t], first=int(t == 0), last=int(t == T - 1))
                rows.append([int(idle[t])] + beat_words(man.input, word))
        reset = NONE if seg.reset_at is None else seg.reset_at
        out.append(np.array([len(rows), reset, seg.want, len(seg.load)], dtype=np.uint32))
        if seg.load:
            out.append(np.array(seg.load, dtype=np.uint32).ravel())
        if rows:
            out.append(np.array(rows, dtype=np.uint32).ravel())
    Path(path).write_bytes(np.concatenate(out).astype("<u4").tobytes())


def run(exe, man: Manifest, segments: list[Segment], folder, *, stall: float, seed: int,
        limit: int) -> RunOut:
    """Stream the segments; raises HarnessError when the harness reports a broken rule."""
    folder = Path(folder)
    stim, outp = folder / "stimulus.bin", folder / "beats.bin"
    write_stimulus(stim, man, segments, stall=stall, seed=seed, limit=limit)
    r = subprocess.run(["nice", "-n", "10", str(exe), str(stim), str(outp)],
                       capture_output=True, text=True)
    if r.returncode:
        raise HarnessError((r.stdout + r.stderr).strip().splitlines()[-1] if
                           (r.stdout + r.stderr).strip() else f"harness exit {r.returncode}")
    res = RunOut(beats=[[] for _ in segments], accepted=[0] * len(segments))
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["segment"]:
            res.accepted[int(parts[1])] = int(parts[3])
        elif parts[:1] == ["done"]:
            res.cycles = int(parts[2])
    no = beat_word_count(man.output)
    raw = np.frombuffer(outp.read_bytes(), dtype="<u4").reshape(-1, 1 + no)
    for row in raw:
        res.beats[int(row[0])].append(man.output.unpack(beat_value(man.output, row[1:])))
    return res
