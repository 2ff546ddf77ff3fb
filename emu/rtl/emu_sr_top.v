// A streaming float32 -> E4M3 unit, the top level of the cocotb examples (README; tests/cocotb/):
// the reference LFSR and converter of emu_dut.v behind one input register. Semantics:
// docs/semantics.md §6 (stochastic rounding, carry form), §7.2 (LFSR).
//
// Each rising edge with in_valid: x and sr are registered, and when sr = 1 the LFSR makes one
// draw (8 shifts; one draw per stochastically rounded element, as emu's SR consumes them). One
// cycle later y holds the converted value, out_valid is high, and lfsr_state is the state after
// that element's draw. rst (synchronous) loads `seed` into the LFSR and clears the pipeline.
//
// Deliberately broken variants, for the tests that show what a scoreboard reports:
//   BUG_TIE_AWAY = 1: round-to-nearest sends exact ties away from zero (one flipped decision);
//   LFSR_LATE    = 1: each element is rounded with the previous draw's word (one step late).
module emu_sr_top #(parameter BUG_TIE_AWAY = 0, parameter LFSR_LATE = 0) (
    input  wire        clk,
    input  wire        rst,
    input  wire [31:0] seed,
    input  wire        in_valid,
    input  wire        sr,
    input  wire [31:0] x,
    output reg         out_valid,
    output wire [7:0]  y,
    output wire [31:0] lfsr_state
);
    wire [7:0] word;
    reg  [7:0] word_before;  // the previous draw's word (LFSR_LATE)
    reg [31:0] x_q;
    reg        sr_q;

    emu_lfsr32 #(.D(8)) lfsr (.clk(clk), .load(rst), .seed(seed), .step(in_valid && sr),
                              .state(lfsr_state), .word(word));

    always @(posedge clk) begin
        if (rst) begin
            out_valid <= 1'b0;
            x_q <= 32'd0;
            sr_q <= 1'b0;
            word_before <= 8'd0;
        end else begin
            out_valid <= in_valid;
            if (in_valid) begin
                x_q <= x;
                sr_q <= sr;
            end
            if (in_valid && sr) word_before <= word;
        end
    end

    emu_fp32_to_e4m3 #(.BUG_TIE_AWAY(BUG_TIE_AWAY)) conv (
        .x(x_q), .r(LFSR_LATE != 0 ? word_before : word), .sr(sr_q), .y(y));
endmodule
