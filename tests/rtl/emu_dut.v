// Reference DUT for emu's RTL co-simulation (tests/test_rtl.py).
// Semantics: docs/semantics.md §7.2 (LFSR random source), §6 (stochastic rounding),
// OCP E4M3: bias 7, max 448, NaN 0x7F|s, no Inf, non-saturating overflow -> NaN.

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
        if (load) state <= seed;
        else if (step) begin
            state <= s;
            word <= w;
        end
    end
endmodule

// float32 -> E4M3, combinational. sr = 0: round to nearest even; sr = 1: stochastic rounding
// (carry form) with the 8-bit random word r: round up iff T + r >= 256, T = the top 8
// discarded bits.
module emu_fp32_to_e4m3 (
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
    integer    shift;   // discarded bit count
    reg [23:0] kept, rem, half;
    reg [7:0]  t;
    reg        up;
    reg [11:0] mag;
    always @* begin
        s = x[31]; e = x[30:23]; m = x[22:0];
        sig = {1'b1, m};
        ex = e - 127;
        up = 1'b0; kept = 0; rem = 0; half = 0; t = 0; mag = 0; shift = 0;
        if (e == 8'hFF) begin
            y = {s, 7'h7F};                           // NaN, and Inf (no Inf in E4M3)
        end else if (e == 8'h00) begin
            y = {s, 7'h00};                           // fp32 subnormals are far below 2^-10
        end else begin
            if (ex >= -6) shift = 20;                 // normal: keep 3 of 23 mantissa bits
            else shift = 14 - ex;                     // subnormal: LSB is 2^-9
            if (shift >= 24) begin
                kept = 0; rem = sig;
            end else begin
                kept = sig >> shift;
                rem = sig & ((24'd1 << shift) - 1);
            end
            if (shift - 8 >= 24) t = 0;
            else t = rem >> (shift - 8);              // shift >= 20 > 8 always
            if (sr) up = ({1'b0, t} + {1'b0, r}) >= 9'd256;
            else if (shift <= 24) begin
                half = 24'd1 << (shift - 1);
                up = (rem > half) || (rem == half && kept[0]);
            end else up = 1'b0;                       // rem < 2^24 <= half
            if (ex >= -6) mag = ((ex + 6) << 3) + kept;  // hidden bit carries into exponent
            else mag = kept;
            mag = mag + up;
            if (mag > 12'h07E) y = {s, 7'h7F};         // overflow: non-saturating -> NaN
            else y = {s, mag[6:0]};
        end
    end
endmodule
