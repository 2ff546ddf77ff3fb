"""Golden sets of block-scaled formats (issue 17 item 5, docs/semantics.md §10.10): mx-quantize and
mx-dot, written and loaded like every set, checked against exact references that share no code
with the sets (OCP MX's scale rule and element rounding in Fractions, the MX dot product in
Fractions), and emu check's triage that tells a wrong scale from wrong elements."""

from __future__ import annotations

import json
import math
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import reference as ref
from click.testing import CliRunner

import emu
import emu.blockdot
import emu.blocks
import emu.linalg
from cli.main import main
from emu.golden import SetError, check, load, regenerate, write
from emu.golden import mx as gmx
from emu.golden.spec import BLOCK_SUMS, ORDERS, SCALE_RULES, build_spec
from emu.golden.vectors import generate

ROOT = Path(__file__).resolve().parent.parent / "golden_vectors"
Q_RNE = ROOT / "mx_quantize_mxfp8_e4m3_rne"
Q_SR = ROOT / "mx_quantize_mxfp4_sr_r8"
DOT = ROOT / "mx_dot_mxfp8_e4m3_fp32"
EMAX = {"e4m3": 8, "e5m2": 15, "e3m2": 4, "e2m3": 2, "e2m1": 2}  # OCP MX Table 1: emax_elem


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


def as_floats(codes, fmt) -> list[float]:
    return emu.Registers.from_codes(np.asarray(codes).reshape(-1), fmt).to_float().tolist()


# --- exact references (OCP MX v1.0 §6.3 and §6.1, written from the spec) ---------------------
def ref_block(xs: list[float], elem: str, mode: str = "rne", words=None, r: int = 8):
    """(scale code, element codes) of one block: X = 2**(floor(log2 amax) - emax_elem), clamped
    to E8M0's range (an all-zero block: 2**-127, emu's choice); a block holding NaN or Inf:
    the NaN scale and +0 elements (emu's choice); elements x / X rounded once, saturating."""
    if any(math.isnan(v) or math.isinf(v) for v in xs):
        return 0xFF, [0] * len(xs)
    amax = max(abs(Fraction(v)) for v in xs)
    s = -127 if amax == 0 else min(max(ref.floor_log2(amax) - EMAX[elem], -127), 127)
    fmt = emu.format(elem)
    out = []
    for i, v in enumerate(xs):
        y = v if v == 0 else Fraction(v) / Fraction(2) ** s  # keeps -0.0 a float
        sr = {} if words is None else {"rbits": r, "rword": int(words[i])}
        out.append(ref.round_value(y, fmt, mode, saturate=True, **sr))
    return s + 127, out


def ref_dot(a, sa, b, sb, elem: str, acc: str = "fp32"):
    """The MX dot product (OCP MX §6.1): X_A * X_B * sum a_i b_i, exact, rounded once into acc
    (rne; an exact zero is +0: the accumulator starts at +0). None for a NaN result, +-inf
    for an infinite one."""
    va, vb = as_floats(a, elem), as_floats(b, elem)
    xa, xb = [2.0 ** (s - 127) if s != 0xFF else math.nan for s in (sa, sb)]
    prods = [x * y for x, y in zip(va, vb, strict=True)]  # +-inf and nan as IEEE floats say
    if math.isnan(xa) or math.isnan(xb) or any(math.isnan(p) for p in prods):
        return None
    infs = {math.copysign(1, p) for p in prods if math.isinf(p)}
    if len(infs) == 2:
        return None
    if infs:
        return math.inf * infs.pop()
    exact = sum((Fraction(x) * Fraction(y) for x, y in zip(va, vb, strict=True)), Fraction(0))
    total = Fraction(xa) * Fraction(xb) * exact
    return ref.round_value(total, emu.format(acc), "rne") if total else 0


# --- the spec --------------------------------------------------------------------------------
def test_spec_layout_and_defaults():
    assert build_spec("mx-quantize", fmt="mxfp8") == {
        "op": "mx-quantize", "inputs": ["corners", "random"], "count": 1000, "seed": 1,
        "fmt": "mxfp8_e4m3", "src": "fp32", "rounding": "rne", "scale_rule": "floor", "saturate": True}
    assert build_spec("mx-dot", fmt="nvfp4") == {
        "op": "mx-dot", "inputs": ["corners", "random"], "count": 1000, "seed": 1, "fmt": "nvfp4",
        "acc": "fp32", "acc_rounding": "rne", "block_sum": "exact", "order": "sequential"}
    # a generic spelling of a named format is the named format; other generic formats spell out
    assert build_spec("mx-quantize", fmt="e2m1", block_size=16, scale_format="e4m3")["fmt"] == "nvfp4"
    g = build_spec("mx-quantize", fmt="e4m3", block_size=16, rounding="sr", sr_bits=4)
    assert (g["fmt"], g["block_size"], g["scale_format"], g["sr_bits"]) == ("e4m3", 16, "e8m0", 4)
    assert g["lfsr"] == {"width": 32, "seed": 1, "lanes": 1, "shifts": 4}
    assert build_spec("mx-quantize", fmt="mxint8", overflow="wrap")["overflow"] == "wrap"
    assert "saturate" not in build_spec("mx-quantize", fmt="mxint8")
    assert build_spec("mx-quantize", fmt="mxfp4", saturate=False)["saturate"] is False


def test_choices_are_the_cores():
    assert SCALE_RULES == emu.blocks.SCALE_RULES
    assert BLOCK_SUMS == emu.blockdot.BLOCK_SUMS
    assert ORDERS == tuple(emu.linalg.ORDERS)


# --- the committed sets against the exact references ------------------------------------------
def test_committed_quantize_set_is_ocp_mx():
    gs = load(Q_RNE)
    assert gs.spec["fmt"] == "mxfp8_e4m3" and gs.count > 200
    x, y, s = gs.block_codes("x"), gs.block_codes("y"), gs["scale"]
    assert x.shape == (gs.count, 32) and [p.name for p in gs.outputs][:2] == ["scale", "y0"]
    for i in range(gs.count):
        scale, elems = ref_block(as_floats(x[i], "fp32"), "e4m3")
        assert (int(s[i]), y[i].tolist()) == (scale, elems), i


def test_committed_sr_set_draws_one_word_per_element_in_order():
    gs = load(Q_SR)
    n, k = gs.count, 32
    words = gs.block_codes("r")
    # vector-major, element-minor: one call of n * k draws of the default LFSR
    assert np.array_equal(words.reshape(-1), emu.LFSR(seed=1, shifts=8).random_words(n * k, 8))
    x, y, s = gs.block_codes("x"), gs.block_codes("y"), gs["scale"]
    for i in range(n):
        scale, elems = ref_block(as_floats(x[i], "fp32"), "e2m1", "sr", words[i], 8)
        assert (int(s[i]), y[i].tolist()) == (scale, elems), i


def test_committed_dot_set_is_the_mx_dot_product():
    gs = load(DOT)
    a, b = gs.block_codes("a"), gs.block_codes("b")
    sa, sb, y = gs["scale_a"], gs["scale_b"], gs["y"]
    got = gs.values("y")
    kinds = set()
    for i in range(gs.count):
        want = ref_dot(a[i], int(sa[i]), b[i], int(sb[i]), "e4m3")
        if want is None:
            assert math.isnan(got[i]), i
            kinds.add("nan")
        elif isinstance(want, float):
            assert got[i] == want, i  # an Inf product (e4m3 has none: not in this set)
        else:
            assert int(y[i]) == want, (i, hex(int(y[i])), hex(want))
            exp = want & 0x7F800000
            kinds.add("zero" if want == 0 else "subnormal" if exp == 0 else "inf" if exp == 0x7F800000
                      else "normal")
    assert kinds == {"nan", "inf", "zero", "subnormal", "normal"}


def test_committed_quantize_corners_cover_the_cases():
    """Zero blocks, NaN/Inf blocks, amax at powers of two and just below, the element's
    subnormals, saturation and ties are all in the set."""
    gs = load(Q_RNE)
    x = np.array([as_floats(row, "fp32") for row in gs.block_codes("x")])
    y, s = gs.block_codes("y"), gs["scale"]
    with np.errstate(invalid="ignore"):
        amax = np.abs(np.where(np.isfinite(x), x, 0)).max(axis=1)
    assert ((x == 0).all(axis=1) & (s == 0)).any()  # all zero: the smallest scale
    assert (~np.isfinite(x).all(axis=1) & (s == 0xFF)).sum() >= 5
    m, e = np.frexp(amax)
    assert (m == 0.5).sum() >= 8 and (m == 1 - 2.0 ** -24).sum() >= 8  # 2**e and the fp32 below
    assert {0, 1, 127 + 127 - 8}.issubset(set(s.tolist()))  # clamped low; amax 2**127: 2**119
    mag = y & 0x7F
    assert ((mag > 0) & (mag < 8)).sum() >= 30  # e4m3 subnormals
    assert (mag == 0x7E).sum() >= 30  # saturated at 448
    rows = np.flatnonzero(s != 0xFF)
    regs = emu.Registers.from_codes(gs.block_codes("x")[rows].reshape(-1), "fp32")
    away = emu.quantize(regs.to_float().reshape(-1, 32), "mxfp8_e4m3", "rna").codes
    zero = emu.quantize(regs.to_float().reshape(-1, 32), "mxfp8_e4m3", "rnz").codes
    assert (away != zero).sum() >= 100  # ties


# --- generated sets against emu's own calls (every format, rule and mode) ---------------------
@pytest.mark.parametrize("kwargs", [
    dict(fmt="mxfp8_e5m2", scale_rule="rceil", saturate=False),
    dict(fmt="mxfp6_e3m2", rounding="rtz", scale_rule="ceil"),
    dict(fmt="mxfp6_e2m3", rounding="rna", src="bf16"),
    dict(fmt="mxint8", overflow="wrap"),
    dict(fmt="nvfp4"),
    dict(fmt="e4m3", block_size=8, scale_format="e8m0", rounding="signed_sr_eps", eps=0.25,
         direction=-1, lfsr={"lanes": 3}),
])
def test_quantize_sets_are_emu_quantize(tmp_path, kwargs):
    gs = load(write(tmp_path / "set", "mx-quantize", count=40, **kwargs))
    spec = gs.spec
    bf = gmx.block_of(spec)
    x = emu.Registers.from_codes(gs.block_codes("x").reshape(-1), spec["src"]).to_float()
    x = x.reshape(gs.count, bf.block_size)
    opts = {"saturate": spec["saturate"]} if "saturate" in spec else {"overflow": spec.get("overflow")}
    if "lfsr" in spec:
        opts.update(rng=emu.ReplaySource(gs.block_codes("r").reshape(-1)), sr_bits=spec["sr_bits"],
                    eps=spec.get("eps"), direction=spec.get("direction"))
    want = emu.quantize(x, bf, spec["rounding"], scale_rule=spec["scale_rule"], **opts)
    got = gs.blocks()
    assert np.array_equal(got.scales, want.scales) and np.array_equal(got.codes, want.codes)
    assert np.array_equal(got.to_float(), want.to_float(), equal_nan=True)
    assert gs.compare({"scale": gs["scale"], "y": gs.block_codes("y")}).ok


@pytest.mark.parametrize("kwargs", [
    dict(fmt="mxfp4", acc_rounding="sr", block_sum="products", lfsr={"lanes": 2}),
    dict(fmt="mxfp8_e5m2", acc="bf16", order="exact", saturate=True),
    dict(fmt="nvfp4", acc_rounding="rtz"),
    dict(fmt="mxint8", acc="s24.12", overflow="wrap"),
    dict(fmt="mxfp6_e2m3", acc_rounding="sr", sr_bits=12),
])
def test_dot_sets_are_emu_dot(tmp_path, kwargs):
    gs = load(write(tmp_path / "set", "mx-dot", count=30, **kwargs))
    spec = gs.spec
    bf = gmx.block_of(spec)
    a, b = gs.blocks("a"), gs.blocks("b")
    d = gmx.draws_per_vector(spec)
    words = None if d == 0 else (gs["r"].reshape(-1, 1) if d == 1 else gs.block_codes("r"))
    assert d in (0, 1, bf.block_size)
    for i in range(gs.count):
        ra = emu.BlockRegisters(a.codes[i], a.scales[i], bf)
        rb = emu.BlockRegisters(b.codes[i], b.scales[i], bf)
        kw = dict(acc_rounding=spec["acc_rounding"], order=spec["order"], block_sum=spec["block_sum"],
                  acc_saturate=spec.get("saturate"), acc_overflow=spec.get("overflow"))
        if words is not None:
            kw.update(rng=emu.ReplaySource(words[i]), sr_bits=spec["sr_bits"])
        assert int(emu.blockdot.dot(ra, rb, spec["acc"], **kw).codes) == int(gs["y"][i]), i


# --- written and read like every set -----------------------------------------------------------
def test_cli_writes_the_library_set_in_every_layout(tmp_path):
    args = ["golden", "mx-quantize", "--format", "nvfp4", "-r", "sr", "--sr-bits", "6",
            "--lfsr-lanes", "2", "--count", "12"]
    r = run(*args, "--out", tmp_path / "cli")
    assert r.exit_code == 0, r.output
    assert "(ports: x0..x15[32] in, r0..r15[6] in, scale[8] out, y0..y15[4] out)" in r.output
    py = write(tmp_path / "py", "mx-quantize", fmt="nvfp4", rounding="sr", sr_bits=6,
               lfsr={"lanes": 2}, count=12)
    m, c = (json.loads((d / "manifest.json").read_text()) for d in (py, tmp_path / "cli"))
    assert {k: v for k, v in m.items() if k != "command"} == {k: v for k, v in c.items() if k != "command"}
    assert m["command"] == (f"emu.golden.write({str(py)!r}, 'mx-quantize', fmt='nvfp4', rounding='sr', "
                            "count=12, sr_bits=6, lfsr={'lanes': 2})")
    one = load(py)
    r = run(*args, "--out", tmp_path / "packed", "--layout", "packed", "--radix", "bin", "--address")
    assert r.exit_code == 0, r.output
    packed = load(tmp_path / "packed")
    assert packed.names == one.names and all(np.array_equal(packed[n], one[n]) for n in one.names)
    line = (tmp_path / "packed" / "vectors.bin").read_text().splitlines()[2]
    assert len(line.split("_")) == 16 + 16 + 1 + 16  # x, r, scale, y of one block on one line
    for d in (py, tmp_path / "packed"):
        assert check(d, [d]).ok and run("check", d, d).exit_code == 0


def test_sharded_sets_concatenate_and_regenerate_byte_for_byte(tmp_path):
    for op, kw in [("mx-quantize", dict(fmt="mxfp4", rounding="sr", lfsr={"lanes": 3}, count=150)),
                   ("mx-dot", dict(fmt="mxfp8_e5m2", acc_rounding="sr", lfsr={"lanes": 2}, count=60))]:
        whole = generate(build_spec(op, **kw))
        top = write(tmp_path / op, op, **kw, shards=3, local=True, address=True)
        gs = load(top)
        assert gs.sharded and gs.count == whole.count
        for p in whole.ports:
            assert np.array_equal(gs[p.name], p.values), (op, p.name)
        again = regenerate(top, tmp_path / f"{op}-again")
        files = sorted(p.relative_to(top) for p in top.rglob("*") if p.is_file())
        assert files and all((again / f).read_bytes() == (top / f).read_bytes() for f in files)
        assert check(top, [top]).ok


# --- emu check: scale mismatches apart from element mismatches ---------------------------------
def _dump(gs, tmp_path: Path, scale=None, y=None) -> Path:
    d = tmp_path / "dump"
    d.mkdir(exist_ok=True)
    s = gs["scale"] if scale is None else scale
    y = gs.block_codes("y") if y is None else y
    (d / "scale.hex").write_text("".join(f"{int(v):02x}\n" for v in s))
    for j in range(y.shape[1]):
        (d / f"y{j}.hex").write_text("".join(f"{int(v):x}\n" for v in y[:, j]))
    return d


def _ordinary_blocks(gs) -> list[int]:
    """Blocks of finite, mostly nonzero inputs with a mid-range scale."""
    x = np.array([as_floats(row, gs.spec["src"]) for row in gs.block_codes("x")])
    ok = np.isfinite(x).all(axis=1) & ((x != 0).sum(axis=1) > 24) & (gs["scale"] > 100) & (gs["scale"] < 150)
    return np.flatnonzero(ok).tolist()


def test_check_tells_a_wrong_scale_from_wrong_elements(tmp_path):
    gs = load(Q_RNE)
    n = gs.count
    assert run("check", Q_RNE, Q_RNE).exit_code == 0
    i, j = _ordinary_blocks(gs)[:2]
    s, y = gs["scale"].copy(), gs.block_codes("y").copy()
    # block i: a device whose scale is one too large, its elements right for that scale ...
    s[i] += 1
    y[i] = emu.quantize(np.array(as_floats(gs.block_codes("x")[i], "fp32")) / 2.0 ** (int(s[i]) - 127),
                        "e4m3", "rne", saturate=True).codes
    moved = int((y[i] != gs.block_codes("y")[i]).sum())
    assert moved > 20
    # ... and one element of block j wrong by one code
    y[j, 7] ^= 1
    r = run("check", Q_RNE, _dump(gs, tmp_path, s, y))
    assert r.exit_code == 1, r.output
    assert f"{n} vectors, 2 mismatches" in r.output
    assert f"scale: 1 of {n} blocks differ (their {moved} element mismatches follow from the actual scale)" \
        in r.output
    assert f"element: 1 of {n * 32} elements (in 1 of {n} blocks) differ from the set's, not explained " \
        "by their block's scale" in r.output
    assert f"#{i} [scale]" in r.output
    assert "each as the actual scale implies: the scale is the error" in r.output
    assert "      y7 (x7=" in r.output  # block j's element, with its input
    assert r.output.count("expected") == 2  # the scale of block i and y7 of block j; no element of i
    res = json.loads(run("check", Q_RNE, _dump(gs, tmp_path, s, y), "--json").output)
    assert res["blocks"] == {"op": "mx-quantize", "k": 32, "blocks": n, "scale": 1, "explained": moved,
                             "element_blocks": 1, "elements": 1}
    rows = {m["index"]: m for m in res["first"]}
    assert rows[i]["scale"]["ulps"] == 1 and not any(k.startswith("y") for k in rows[i])
    assert rows[j]["y7"]["ulps"] == 1 and rows[j]["class"] in ("normal", "subnormal", "tie")


def test_check_judges_each_element_of_a_block_with_a_wrong_scale(tmp_path):
    gs = load(Q_RNE)
    i = _ordinary_blocks(gs)[3]
    xi = np.array(as_floats(gs.block_codes("x")[i], "fp32"))
    s, y = gs["scale"].copy(), gs.block_codes("y").copy()
    s[i] -= 2  # elements left as the set's: only the scale code is wrong
    res = check(Q_RNE, [_dump(gs, tmp_path, s, y)])
    assert not res.ok and res.n_mismatches == 1 and res.by_class == {"scale": 1}
    assert (res.blocks["scale"], res.blocks["elements"], res.blocks["explained"]) == (1, 0, 0)
    assert "elements: all 32 as the set's (its scale's): only the scale code differs" in res.text()
    # elements rounded with yet another scale: wrong for the set's scale and for the device's
    y[i] = emu.quantize(xi / 2.0 ** (int(s[i]) + 1 - 127), "e4m3", "rne", saturate=True).codes
    mine = emu.quantize(xi / 2.0 ** (int(s[i]) - 127), "e4m3", "rne", saturate=True).codes
    wrong = int(((y[i] != gs.block_codes("y")[i]) & (y[i] != mine)).sum())
    assert wrong > 10
    res = check(Q_RNE, [_dump(gs, tmp_path, s, y)])
    assert res.blocks["elements"] == wrong and res.blocks["element_blocks"] == 1
    text = res.text(first=1)
    assert f"{wrong} of them (listed) are not what the actual scale gives either" in text
    j = int(np.flatnonzero((y[i] != gs.block_codes("y")[i]) & (y[i] != mine))[0])
    assert f"; the actual scale gives {int(mine[j]):02x}): expected" in text
    s[i] = 0xFF  # a NaN scale: the block is NaN whatever its elements
    res = check(Q_RNE, [_dump(gs, tmp_path, s, y)])
    assert res.blocks["elements"] == 0 and "the actual scale is NaN" in res.text()


def test_check_finds_sr_words_offset_by_one_draw(tmp_path):
    gs = load(Q_SR)
    x = np.array([as_floats(row, "fp32") for row in gs.block_codes("x")])
    words = gs.block_codes("r").reshape(-1)
    late = emu.ReplaySource(np.concatenate([[0], words[:-1]]))  # each element one draw late
    y = emu.quantize(x, "mxfp4", "sr", rng=late, sr_bits=8).codes
    res = check(Q_SR, [_dump(gs, tmp_path, None, y)])
    assert not res.ok and res.blocks["scale"] == 0 and res.blocks["elements"] > 100
    assert any("offset by -1 draw(s)" in d for d in res.diagnosis), res.diagnosis


def test_check_of_a_dot_set(tmp_path):
    gs = load(DOT)
    y = gs["y"].copy()
    i = int(np.flatnonzero(np.isfinite(gs.values("y")) & (gs.values("y") != 0))[5])
    y[i] += 1
    (tmp_path / "y.hex").write_text("".join(f"{int(v):08x}\n" for v in y))
    r = run("check", DOT, tmp_path / "y.hex")
    assert r.exit_code == 1 and "1 mismatches" in r.output and f"#{i} [" in r.output, r.output
    assert "A: scale_a=" in r.output and "B: scale_b=" in r.output and "1 ulp" in r.output
    r = run("check", DOT, tmp_path / "missing.hex")
    assert r.exit_code == 2


def test_compare_in_memory_and_bad_dumps(tmp_path):
    gs = load(Q_RNE)
    y = gs.block_codes("y").copy()
    y[3, 0] ^= 1
    res = gs.compare({"scale": gs["scale"], "y": y})
    assert res.n_mismatches == 1 and res.blocks["elements"] == 1
    with pytest.raises(ValueError, match=r"shape \(247, 31\)|\(count, 32\)"):
        gs.compare({"scale": gs["scale"], "y": y[:, 1:]})
    d = _dump(gs, tmp_path)
    (d / "y5.hex").write_text("".join(f"{int(v):02x}\n" for v in gs.block_codes("y")[:-1, 5]))
    r = run("check", Q_RNE, d)
    assert r.exit_code == 2 and "too few words" in r.output


def test_a_set_whose_ports_disagree_with_its_spec_is_refused(tmp_path):
    d = tmp_path / "set"
    shutil.copytree(Q_RNE, d)
    m = json.loads((d / "manifest.json").read_text())
    m["spec"]["fmt"] = "mxfp8_e5m2"  # same widths, other element format than the ports say
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(SetError, match=r"ports\[33\] is \('y0', 'out', 8, 'e4m3'\), its mx-quantize spec "
                                       r"gives \('y0', 'out', 8, 'e5m2'\)"):
        load(d)
    m["spec"]["fmt"] = "mxfp9"
    (d / "manifest.json").write_text(json.dumps(m))
    assert run("check", d, Q_RNE).exit_code == 2


# --- options that do not fit are refused before any work -------------------------------------
@pytest.mark.parametrize("op, kwargs, message", [
    ("mx-quantize", {}, "mx-quantize needs fmt=FORMAT: a block format (mxfp8_e4m3"),
    ("mx-quantize", dict(fmt="mxfp7"), "unknown block format 'mxfp7'"),
    ("mx-quantize", dict(fmt="mxfp4", block_size=16), "block_size and scale_format apply to a generic"),
    ("mx-quantize", dict(fmt="e4m3", block_size=128), "block_size=128 out of range; valid: 1..64"),
    ("mx-quantize", dict(fmt="nvfp4", scale_rule="ceil"), "scale_rule=ceil is for power-of-two (e8m0)"),
    ("mx-quantize", dict(fmt="mxfp4", scale_rule="round"), "unknown scale_rule 'round'; valid: floor, ceil"),
    ("mx-quantize", dict(fmt="mxint8", saturate=True), "saturate applies to float elements; s8.6"),
    ("mx-quantize", dict(fmt="mxfp4", overflow="wrap"), "overflow applies to fixed-point elements"),
    ("mx-quantize", dict(fmt="mxfp4", src="s8.4"), "takes inputs of a float format that float64 holds"),
    ("mx-quantize", dict(fmt="mxfp4", inputs="exhaustive"), "'exhaustive' does not apply to golden"),
    ("mx-quantize", dict(fmt="mxfp4", acc="fp16"), "acc does not apply to golden mx-quantize"),
    ("mx-quantize", dict(fmt="mxfp4", sr_bits=4), "sr_bits applies to stochastic rounding only"),
    ("mx-quantize", dict(fmt="mxfp4", k=4), "k does not apply to golden mx-quantize"),
    ("mx-dot", dict(fmt="mxfp4", rounding="sr"), "rounding does not apply to golden mx-dot (the "
                                                   "accumulator rounds: acc_rounding)"),
    ("mx-dot", dict(fmt="mxfp4", scale_rule="ceil"), "scale_rule does not apply to golden mx-dot"),
    ("mx-dot", dict(fmt="mxfp4", acc="e8m0"), "e8m0 cannot accumulate"),
    ("mx-dot", dict(fmt="mxfp4", block_sum="tree"), "unknown block_sum 'tree'; valid: exact, products"),
    ("mx-dot", dict(fmt="mxfp4", acc_rounding="sr", order="pairwise"),
     "stochastic accumulation is defined for order='sequential'"),
    ("mx-dot", dict(fmt="mxfp4", order="truncating"), "order='truncating' with block_sum='exact'"),
    ("mx-dot", dict(fmt="mxfp4", acc_rounding="sr", eps=0.25), "eps does not apply to golden mx-dot"),
    ("mx-dot", dict(fmt="mxfp4", lfsr={"seed": 3}), "lfsr applies to stochastic rounding only "
                                                     "(acc_rounding=rne)"),
    ("mx-dot", dict(fmt="mxfp4", src="fp16"), "src does not apply to golden mx-dot"),
    ("convert", dict(dst="e4m3", block_sum="products"), "block_sum does not apply to golden convert"),
    ("mx-quantize", dict(fmt="e4m3", block_size=64, rounding="sr", sr_bits=32, layout="packed", radix="bin"),
     "a packed vector of this set is 4808 characters, more than a line may hold (4096)"),
])
def test_bad_options_are_refused_naming_them(tmp_path, op, kwargs, message):
    with pytest.raises((ValueError, TypeError)) as err:
        write(tmp_path / "set", op, **kwargs)
    assert message in str(err.value)
    assert not (tmp_path / "set").exists()


@pytest.mark.parametrize("args, message", [
    (["mx-dot", "--format", "mxfp4", "-r", "sr"], "--rounding does not apply to golden mx-dot (the "
                                                   "accumulator rounds: --acc-rounding)"),
    (["mx-quantize", "--format", "mxfp4", "--block-size", "16"], "--block-size and --scale-format apply"),
    (["mx-quantize", "--format", "mxint8", "--no-saturate"], "--saturate applies to float elements"),
    (["mx-quantize", "--format", "mxfp4", "--scale-rule", "round"], "'round' is not one of 'floor'"),
    (["mx-dot", "--format", "mxfp4", "--acc-rounding", "bogus"], "unknown rounding mode 'bogus'"),
    (["mx-dot", "--format", "mxfp4", "--lfsr-seed", "4"], "--lfsr-seed applies to stochastic rounding "
                                                           "only (--acc-rounding rne)"),
    (["convert", "--dst", "e4m3", "--scale-rule", "ceil"], "--scale-rule does not apply to golden convert"),
])
def test_bad_options_on_the_command_line(tmp_path, args, message):
    r = run("golden", *args, "--out", tmp_path / "set")
    assert r.exit_code == 2 and message in r.output, r.output
    assert not (tmp_path / "set").exists()


def test_too_large_a_set_asks_for_shards(tmp_path):
    with pytest.raises(ValueError, match=r"more than 16777216 in one set; use --shards 2 or more"):
        write(tmp_path / "set", "mx-quantize", fmt="e4m3", block_size=64, count=(1 << 18) + 1,
              inputs="random")
    assert not (tmp_path / "set").exists()


def test_no_online_model_for_block_sets():
    from emu.cocotb import ReferenceModel

    with pytest.raises(ValueError, match="no online model"):
        ReferenceModel("mx-quantize", fmt="mxfp4")
