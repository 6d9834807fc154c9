"""The whole pipeline from Python: train a ternary GRU on the embedded digits task, generate its
Verilog, simulate it against the reference model, and (with --board) build a bitstream.

    make setup                  # once: the venv, with this project installed editable (-e .)
    python examples/pipeline.py [--out build/example] [--limit 40] [--board icebreaker]

tests/test_api.py runs it on a small model (--hidden 4 --epochs 1 --simulator icarus).
"""

import argparse

import shiftrnn


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="build/example")
    p.add_argument("--limit", type=int, default=40, help="test sequences to simulate")
    p.add_argument("--board", default=None, help="also build a bitstream (icebreaker, ulx3s)")
    p.add_argument("--hidden", type=int, default=16, help="hidden units (default 16)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--simulator", default="verilator", help="verilator (default) or icarus")
    a = p.parse_args()

    r = shiftrnn.train(a.out, task="digits", cell="gru", hidden=a.hidden, quant="ternary",
                       epochs=a.epochs, progress=True)
    print(f"trained: {r.metric} of the quantized model {r.qat:.4f}, "
          f"of the exported integer model {r.integer:.4f}")
    g = shiftrnn.generate(r.run, board=a.board or "icebreaker")
    print(f"generated {g.top_v}: {g.cycles_per_step} cycles per step, latency {g.latency}")
    s = shiftrnn.simulate(r.run, simulator=a.simulator, limit=a.limit)
    print(f"simulated {s.sequences} sequences: {s.mismatches} mismatching beats, RTL "
          f"{s.rtl_metric:.4f} against the reference model's {s.reference_metric:.4f}")
    if a.board:
        b = shiftrnn.build(r.run, board=a.board)
        print(f"{b.board}: {b.lut}/{b.lut_available} LUTs, Fmax {b.fmax_mhz:.1f} MHz, "
              f"bitstream {b.bitstream}")


if __name__ == "__main__":
    main()
