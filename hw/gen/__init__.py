"""The hardware generator: shift-and-add RNN/GRU/LSTM datapaths from a model file.

`plan` turns a model into integers the circuit needs (aligned multipliers, biases, widths,
memory images, cycle counts) in pure Python; `activation`, `cell`, `engine` and `top` build the
Amaranth components from a plan; `cli` is `python -m hw verilog`. Nothing here imports torch,
and every integer the circuit computes is the one hw/reference.py computes.
"""
