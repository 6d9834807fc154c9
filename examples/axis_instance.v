// The generated core with `--ports axis` (python -m hw verilog RUN/model.json --ports axis,
// or make verilog PORTS=axis) inside someone else's design: module `top` in RUN/top.v.
// Input beat = one time step; output beat = what RUN/manifest.json's `emit` says.
// Set the two widths from RUN/manifest.json (sim/test_axis.py lints this file against a
// generated core with Verilator's width checks):
//   IN_DATA_W  = input.payload_ports[0].width   (input_size * input bits)
//   OUT_DATA_W = output.payload_ports[0].width  (output.payload_width - 1: data, argmax)
module rnn_in_my_design #(
    parameter IN_DATA_W = 64,
    parameter OUT_DATA_W = 164
) (
    input  wire                  clk,
    input  wire                  resetn,      // synchronous, active low
    input  wire [IN_DATA_W-1:0]  x_tdata,     // input_size signed elements, element 0 low
    input  wire                  x_first,     // first step of a sequence: the state starts at 0
    input  wire                  x_tlast,     // last step of a sequence
    input  wire                  x_tvalid,
    output wire                  x_tready,
    output wire [OUT_DATA_W-1:0] y_tdata,     // data (signed elements), then argmax
    output wire                  y_tlast,
    output wire                  y_tvalid,
    input  wire                  y_tready
);
    top rnn (
        .aclk(clk), .aresetn(resetn),
        .s_axis_tdata(x_tdata), .s_axis_tuser(x_first), .s_axis_tlast(x_tlast),
        .s_axis_tvalid(x_tvalid), .s_axis_tready(x_tready),
        .m_axis_tdata(y_tdata), .m_axis_tlast(y_tlast),
        .m_axis_tvalid(y_tvalid), .m_axis_tready(y_tready)
    );
endmodule
