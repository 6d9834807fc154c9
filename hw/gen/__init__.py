"""The hardware generator: shift-and-add RNN/GRU/LSTM datapaths from a model file.

`plan` and `lanes` turn a model into integers the circuit needs (aligned multipliers, biases,
widths, memory images) in pure Python; a design is decided once in a plan object
(`topplan.TopPlan`, `unrolled_top.UnrolledPlan`: the folding, the timing, the memories),
whose `.manifest()` describes it and whose `.create()` builds the top from it with
`activation`, `cell`, `engine`, `step` and `top`; `cli` is `python -m hw verilog`. Nothing
here imports torch, and every integer the circuit computes is the one hw/reference.py
computes.
"""
