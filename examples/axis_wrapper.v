// AXI-Stream-style port names around the generated core (RUN/top.v, module `top`).
// Input beat = one time step; output beat = what manifest.json's `emit` says.
// Set the two widths from RUN/manifest.json:
//   IN_DATA_W = input.fields.data.count * input.fields.data.width
//   OUT_W     = output.payload_width
// The core's input payload is {last, first, data} and its output payload ends with `last` in
// its top bit (manifest.json: input.fields.first.offset == IN_DATA_W, last == IN_DATA_W + 1,
// output.fields.last.offset == OUT_W - 1); sim/test_axis_example.py checks both.
module shiftrnn_axis #(
    parameter IN_DATA_W = 64,
    parameter OUT_W = 165
) (
    input  wire                 aclk,
    input  wire                 aresetn,        // synchronous, active low
    input  wire [IN_DATA_W-1:0] s_axis_tdata,   // input_size signed elements, element 0 low
    input  wire                 s_axis_tuser,   // first step of a sequence: state starts at 0
    input  wire                 s_axis_tlast,   // last step of a sequence
    input  wire                 s_axis_tvalid,
    output wire                 s_axis_tready,
    output wire [OUT_W-2:0]     m_axis_tdata,   // output payload below `last`: data, argmax
    output wire                 m_axis_tlast,
    output wire                 m_axis_tvalid,
    input  wire                 m_axis_tready
);
    wire [OUT_W-1:0] o_payload;

    top core (
        .clk(aclk),
        .rst(~aresetn),
        .i__valid(s_axis_tvalid),
        .i__ready(s_axis_tready),
        .i__payload({s_axis_tlast, s_axis_tuser, s_axis_tdata}),
        .o__valid(m_axis_tvalid),
        .o__ready(m_axis_tready),
        .o__payload(o_payload)
    );

    assign m_axis_tdata = o_payload[OUT_W-2:0];
    assign m_axis_tlast = o_payload[OUT_W-1];
endmodule
