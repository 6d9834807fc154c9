"""The end-to-end demo: train -> model.json -> Verilog -> cocotb -> bitstream -> report.

It only runs the project's own commands in order and collects their outputs; it computes
nothing of its own beyond the report's ratios.
"""
