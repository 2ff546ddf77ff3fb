// Test bench: loads emu golden vectors with $readmemh, drives the DUT, writes the outputs with
// $writememh. Plusargs: +SET_RNE=dir +SET_SR=dir +SET_LFSR=dir +OUT=dir +N_RNE=n +N_SR=n +N_LFSR=n
// (SET_LFSR is required, for a uniform command line, but not read: the LFSR needs no input file).
// BUG_TIE_AWAY is handed to the conversion unit (emu_dut.v): 1 builds the deliberately broken DUT.
// Runs under Icarus Verilog and Verilator (--binary --timing); lint-clean under
// `verilator --lint-only -Wall --timing` with emu_dut.v.
`timescale 1ns/1ps
module tb_emu #(parameter integer BUG_TIE_AWAY = 0);
    localparam MAX = 1 << 17;
    reg [31:0] a_rne [0:MAX-1];
    reg [31:0] a_sr  [0:MAX-1];
    reg [7:0]  y_rne [0:MAX-1];
    reg [7:0]  y_sr  [0:MAX-1];
    reg [31:0] st    [0:MAX-1];
    reg [7:0]  wd    [0:MAX-1];
    reg [1023:0] set_rne, set_sr, out;
    integer n_rne, n_sr, n_lfsr, i;

    reg clk = 0;
    reg load = 0, step = 0;
    wire [31:0] state;
    wire [7:0] word;
    emu_lfsr32 lfsr (.clk(clk), .load(load), .seed(32'd1), .step(step), .state(state), .word(word));

    reg [31:0] x;
    reg [7:0] r;
    reg sr;
    wire [7:0] y;
    emu_fp32_to_e4m3 #(.BUG_TIE_AWAY(BUG_TIE_AWAY)) conv (.x(x), .r(r), .sr(sr), .y(y));

    // non-blocking, the usual clock-generator form: the edge lands after the blocking assignments
    // of its time step (Verilator -Wall flags a blocking one, BLKSEQ)
    always #5 clk <= ~clk;

    initial begin
        if (!$value$plusargs("SET_RNE=%s", set_rne) || !$value$plusargs("SET_SR=%s", set_sr) ||
            !$test$plusargs("SET_LFSR=") || !$value$plusargs("OUT=%s", out) ||
            !$value$plusargs("N_RNE=%d", n_rne) || !$value$plusargs("N_SR=%d", n_sr) ||
            !$value$plusargs("N_LFSR=%d", n_lfsr)) begin
            $display("tb_emu: ERROR: missing plusargs (see the header)"); $finish;
        end
        $readmemh({set_rne, "/a.hex"}, a_rne, 0, n_rne - 1);
        $readmemh({set_sr, "/a.hex"}, a_sr, 0, n_sr - 1);
        // 1. round-to-nearest-even conversion unit
        sr = 0; r = 0;
        for (i = 0; i < n_rne; i = i + 1) begin
            x = a_rne[i]; #1; y_rne[i] = y;
        end
        $writememh({out, "/rne_y.hex"}, y_rne, 0, n_rne - 1);
        // 2. the LFSR alone: state before each draw, then the word
        @(negedge clk) load = 1;
        @(negedge clk) load = 0;
        for (i = 0; i < n_lfsr; i = i + 1) begin
            st[i] = state;
            step = 1; @(negedge clk); step = 0;
            wd[i] = word;
        end
        $writememh({out, "/lfsr_state.hex"}, st, 0, n_lfsr - 1);
        $writememh({out, "/lfsr_word.hex"}, wd, 0, n_lfsr - 1);
        // 3. the SR unit fed by the LFSR: one draw per element
        @(negedge clk) load = 1;
        @(negedge clk) load = 0;
        sr = 1;
        for (i = 0; i < n_sr; i = i + 1) begin
            step = 1; @(negedge clk); step = 0;
            x = a_sr[i]; r = word; #1; y_sr[i] = y;
        end
        $writememh({out, "/sr_y.hex"}, y_sr, 0, n_sr - 1);
        $finish;
    end
endmodule
