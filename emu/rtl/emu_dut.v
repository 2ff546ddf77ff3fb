// Reference DUT shipped with emu (emu.cocotb.reference_rtl()), co-simulated by tests/test_rtl.py
// and tests/test_cocotb.py.
// Semantics: docs/semantics.md §7.2 (LFSR random source), §6 (stochastic rounding),
// OCP E4M3: bias 7, max 448, NaN 0x7F|s, no Inf, non-saturating overflow -> NaN.
// Lint-clean under `verilator --lint-only -Wall` with either module as top (tests/test_rtl.py).

// One file holds both reference modules on purpose (test benches compile it as one source), so
// the file name cannot match a module name.
/* verilator lint_off DECLFILENAME */

// verilog-lfsr style Fibonacci LFSR, W = 32, poly x^32 + x^22 + x^2 + x + 1 (0x00400007),
// D = 8 single-bit shifts per draw; the first computed bit lands in the MSB of the word.
module emu_lfsr32 #(parameter [31:0] POLY = 32'h00400007, parameter D = 8) (
    input  wire        clk,
    input  wire        load,       // load seed
    input  wire [31:0] seed,
    input  wire        step,       // one draw per cycle when high
    output reg  [31:0] state,
    output reg  [D-1:0] word       // the draw word of the last step
);
    localparam [31:0] TAPS = (POLY >> 1) | 32'h80000000;
    reg [31:0] s;
    reg [D-1:0] w;
    reg fb;
    integer i;
    always @* begin
        s = state;
        w = {D{1'b0}};
        for (i = 0; i < D; i = i + 1) begin
            fb = ^(s & TAPS);
            s = {s[30:0], fb};
            w[D-1-i] = fb;
        end
    end
    always @(posedge clk) begin
        if (load) begin
            state <= seed;
            word <= {D{1'b0}};  // a known word before the first draw (a late consumer reads it)
        end
        else if (step) begin
            state <= s;
            word <= w;
        end
    end
endmodule

// float32 -> E4M3, combinational. sr = 0: round to nearest even; sr = 1: stochastic rounding
// (carry form) with the 8-bit random word r: round up iff T + r >= 256, T = the top 8
// discarded bits.
// BUG_TIE_AWAY (default 0): a deliberately broken DUT for test benches that must show their
// scoreboard catches one wrong rounding decision. With 1, the sr = 0 path rounds an exact tie
// away from zero (up in magnitude) instead of to even; everything else is unchanged.
module emu_fp32_to_e4m3 #(parameter integer BUG_TIE_AWAY = 0) (
    input  wire [31:0] x,
    input  wire [7:0]  r,
    input  wire        sr,
    output reg  [7:0]  y
);
    reg        s;
    reg [7:0]  e;
    reg [22:0] m;
    reg [23:0] sig;
    integer    ex;      // unbiased exponent
    integer    shift;   // discarded bit count, >= 20
    reg [23:0] kept, rem, half;
    // The 24-bit vectors below hold small values at full width (t < 2^8, mag < 2^11) so that
    // no assignment truncates and every bit is read.
    reg [23:0] t;       // the top 8 discarded bits
    reg        up;
    reg [23:0] mag;     // the E4M3 magnitude code before the overflow test
    always @* begin
        s = x[31]; e = x[30:23]; m = x[22:0];
        sig = {1'b1, m};
        ex = $signed({24'd0, e}) - 127;
        up = 1'b0; kept = 24'd0; rem = 24'd0; half = 24'd0; t = 24'd0; mag = 24'd0; shift = 0;
        if (e == 8'hFF) begin
            y = {s, 7'h7F};                           // NaN, and Inf (no Inf in E4M3)
        end else if (e == 8'h00) begin
            y = {s, 7'h00};                           // fp32 subnormals are far below 2^-10
        end else begin
            if (ex >= -6) shift = 20;                 // normal: keep 3 of 23 mantissa bits
            else shift = 14 - ex;                     // subnormal: LSB is 2^-9
            if (shift >= 24) begin
                kept = 24'd0; rem = sig;
            end else begin
                kept = sig >> shift;
                rem = sig & ((24'd1 << shift) - 24'd1);
            end
            if (shift - 8 >= 24) t = 24'd0;
            else t = rem >> (shift - 8);              // shift >= 20 > 8 always
            if (sr) up = (t + {16'd0, r}) >= 24'd256;
            else if (shift <= 24) begin
                half = 24'd1 << (shift - 1);
                up = (rem > half) || (rem == half && (BUG_TIE_AWAY != 0 || kept[0]));
            end else up = 1'b0;                       // rem < 2^24 <= half
            // normal: ((ex + 6) << 3) + kept, the hidden bit in kept carries into the exponent;
            // e - 121 = ex + 6 >= 0 here
            if (ex >= -6) mag = {13'd0, e - 8'd121, 3'd0} + kept;
            else mag = kept;
            mag = mag + {23'd0, up};
            if (mag > 24'h00007E) y = {s, 7'h7F};     // overflow: non-saturating -> NaN
            else y = {s, mag[6:0]};
        end
    end
endmodule
/* verilator lint_on DECLFILENAME */
