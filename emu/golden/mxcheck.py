"""``emu check`` on block sets (docs/semantics.md §10.10): scale and element mismatches apart.

mx-quantize: a vector (a block) whose ``scale`` differs is a *scale* mismatch; its element
mismatches are then judged against the scale the device chose: emu rounds the block's inputs
again with the actual scale forced (the same element rounding, the same random words), and an
element that equals that is *explained* by the scale, not reported as an error of its own. Only
elements that differ from what their block's (actual) scale implies are *element* mismatches
(class nan, inf/overflow, subnormal, tie or normal, from the expected code; tie: the element's
input was halfway under the expected scale). For stochastic sets a diagnosis says when the
elements match the random words offset by k draws, as for the other SR sets.

mx-dot: one output ``y`` per vector, classified as every other set's (nan, inf/overflow,
subnormal, normal; tie when block_sum is exact and the exact value was halfway); each report line
shows the two blocks compactly (scale, then the element codes).
"""

from __future__ import annotations

import numpy as np

from . import mx

_SHOWN_ELEMENTS = 8  # elements of a block shown in a report line's summary


def compare_blocks(res, vs, expected: dict, got: dict, off: int, keep: int) -> None:
    """Add the output mismatches of one part of a block set to ``res`` (a CheckResult)."""
    if vs.spec["op"] == "mx-quantize":
        _quantize(res, vs, expected, got, off, keep)
    else:
        _dot(res, vs, expected, got, off, keep)


def _implied(spec: dict, x: np.ndarray, scales: np.ndarray, words, mode_name=None) -> tuple:
    """(element codes (m, k), ok (m,)): emu's elements of each block under the given scale codes;
    a block whose elements cannot be rounded (a NaN into e2m1, ...) is not ok."""
    m, k = x.shape
    out = np.zeros((m, k), np.uint64)
    ok = np.ones(m, bool)
    if not m:
        return out, ok
    try:
        return mx.implied_elements(spec, x, scales, words, mode_name), ok
    except ValueError:
        for i in range(m):
            try:
                out[i] = mx.implied_elements(spec, x[i:i + 1], scales[i:i + 1],
                                             None if words is None else words[i:i + 1], mode_name)[0]
            except ValueError:
                ok[i] = False
        return out, ok


def _quantize(res, vs, expected: dict, got: dict, off: int, keep: int) -> None:
    from .classes import CLASSES, _code_class, _describe, _hex, _ulps

    spec = vs.spec
    bf = mx.block_of(spec)
    k = bf.block_size
    d = k if "r0" in expected else 0
    x = mx.stack(expected, "x", k)
    want_y, got_y = mx.stack(expected, "y", k), mx.stack(got, "y", k)
    want_s = np.asarray(expected["scale"]).astype(np.uint64)
    got_s = np.asarray(got["scale"]).astype(np.uint64)
    words = mx.word_ports(expected, d)
    scale_bad = want_s != got_s
    differ = want_y != got_y
    bad = scale_bad | differ.any(axis=1)
    st = res.blocks
    st.setdefault("op", "mx-quantize")
    st["k"] = k
    for key in ("blocks", "scale", "explained", "element_blocks", "elements"):
        st.setdefault(key, 0)
    st["blocks"] += vs.count
    idx = np.flatnonzero(bad)
    if not idx.size:
        return
    # the elements each block's actual scale implies (scale mismatches only), and whether emu's
    # own rounding reproduces the set's elements under the expected scale (else: no explaining)
    sb = np.flatnonzero(scale_bad)
    independent = differ.copy()
    nan_scale = np.zeros(vs.count, bool)
    if sb.size:
        w = None if words is None else words[sb]
        mine, ok_e = _implied(spec, x[sb], want_s[sb], w)
        theirs, ok_a = _implied(spec, x[sb], got_s[sb], w)
        valid = ok_e & ok_a & (mine == want_y[sb]).all(axis=1)
        void = _void_scale(bf, got_s[sb])
        nan_scale[sb] = void
        # an element that differs from the set's is explained when it is what the actual scale
        # gives; one that equals the set's is no error, whatever the scale
        indep = differ[sb] & np.where(valid[:, None], got_y[sb] != theirs, True)
        indep[void] = False  # a NaN scale makes the block NaN whatever its elements
        independent[sb] = indep
    explained = differ & ~independent
    implied_by = {}  # block -> the element codes its actual scale gives (where emu can say)
    if sb.size:
        implied_by = {int(b): theirs[n].tolist() for n, b in enumerate(sb.tolist()) if valid[n]}
    st["scale"] += int(sb.size)
    st["explained"] += int(explained[sb].sum()) if sb.size else 0
    st["element_blocks"] += int(independent.any(axis=1).sum())
    st["elements"] += int(independent.sum())
    res.n_mismatches += int(idx.size)
    # classes: scale, or the class of the first independent element (tie: halfway under the
    # expected scale, where rna and rnz disagree)
    first = np.argmax(independent[idx], axis=1)
    codes = want_y[idx, first]
    classes = np.array([CLASSES.index("normal") if s else _code_class(bf.element, int(c))
                        for s, c in zip(scale_bad[idx].tolist(), codes.tolist(), strict=True)], np.int64)
    elem_rows = np.flatnonzero(~scale_bad[idx])
    if elem_rows.size:
        rows = idx[elem_rows]
        away, ok1 = _implied(spec, x[rows], want_s[rows], None, "rna")
        zero, ok2 = _implied(spec, x[rows], want_s[rows], None, "rnz")
        tie = (away != zero)[np.arange(rows.size), first[elem_rows]] & ok1 & ok2
        sel = elem_rows[tie & (classes[elem_rows] == CLASSES.index("normal"))]
        classes[sel] = CLASSES.index("tie")
    names = ["scale" if s else CLASSES[c] for s, c in zip(scale_bad[idx].tolist(), classes.tolist(),
                                                           strict=True)]
    for c in names:
        res.by_class[c] = res.by_class.get(c, 0) + 1
    src = mx.source_format(spec)
    fmts = vs.formats
    for n, i in enumerate(idx[:max(0, keep - len(res.mismatches))].tolist()):
        row = {"index": off + i, "class": names[n],
               "inputs": {p["name"]: _describe(fmts[p["name"]], p["bits"], int(expected[p["name"]][i]))
                          for p in vs.inputs},
               "about": _about_block(x[i], src, bf)}
        notes = []
        if scale_bad[i]:
            row["scale"] = {"expected": _describe(bf.scale, bf.scale.bits, int(want_s[i])),
                            "actual": _describe(bf.scale, bf.scale.bits, int(got_s[i])),
                            "ulps": _ulps(bf.scale, int(want_s[i]), int(got_s[i]))}
            nd, ni = int(differ[i].sum()), int(independent[i].sum())
            if nan_scale[i]:
                notes.append(f"the actual scale is {'NaN' if bf.power_of_two_scale else 'NaN or 0'}: "
                             f"the block's value is {'NaN' if bf.power_of_two_scale else 'NaN or 0'} "
                             f"whatever its elements ({nd} of {k} differ from the set's)")
            elif nd == 0:
                notes.append(f"elements: all {k} as the set's (its scale's): only the scale code differs")
            elif ni == 0:
                notes.append(f"elements: {nd} of {k} differ, each as the actual scale implies: the "
                             "scale is the error")
            else:
                notes.append(f"elements: {nd} of {k} differ; {ni} of them (listed) are not what the "
                             "actual scale gives either")
        for j in np.flatnonzero(independent[i]).tolist():
            e, g = int(want_y[i, j]), int(got_y[i, j])
            row[f"y{j}"] = {"expected": _describe(bf.element, bf.element.bits, e),
                            "actual": _describe(bf.element, bf.element.bits, g),
                            "ulps": _ulps(bf.element, e, g),
                            "input": f"x{j}={_short(src, int(x[i, j]))}"}
            if scale_bad[i] and not nan_scale[i] and i in implied_by:
                c = implied_by[i][j]
                row[f"y{j}"]["input"] += f"; the actual scale gives {_hex(bf.element.bits, c)}"
        if notes:
            row["notes"] = notes
        res.mismatches.append(row)
    if differ[~scale_bad].any() and words is not None:
        try:
            notes = _diagnose_sr(spec, x, want_s, got_y, words, ~scale_bad)
        except (ValueError, TypeError, KeyError, OverflowError):
            notes = []
        res.diagnosis += [n for n in notes if n not in res.diagnosis]


def _void_scale(bf, codes: np.ndarray) -> np.ndarray:
    """Scale codes that make a block's value independent of its elements: NaN (and a zero float
    scale, which gives zeros)."""
    from ..blocks import scale_values

    if bf.power_of_two_scale:
        return codes == 0xFF
    v = scale_values(codes.astype(np.uint16 if bf.scale.bits > 8 else np.uint8), bf.scale)
    return ~np.isfinite(v) | (v == 0)


def _short(fmt, code: int) -> str:
    from .classes import _hex

    v = fmt.code_value(code)
    return f"{_hex(fmt.bits, code)} ({float(v)!r})"


def _about_block(x: np.ndarray, src, bf) -> str:
    """The block's inputs in brief: its largest magnitude (amax) and where it is, how many are
    zero, NaN or Inf."""
    vals = np.array([float(src.code_value(int(c))) for c in x.tolist()])
    fin = np.isfinite(vals)
    parts = []
    if fin.any():
        j = int(np.argmax(np.where(fin, np.abs(vals), -1.0)))
        parts.append(f"amax x{j}={_short(src, int(x[j]))}")
    zeros = int((vals == 0).sum())
    nans, infs = int(np.isnan(vals).sum()), int(np.isinf(vals).sum())
    if zeros:
        parts.append(f"{zeros} zero")
    if nans or infs:
        parts.append(f"{nans} NaN, {infs} Inf")
    return f"block of {bf.block_size} ({', '.join(parts) or 'empty'})"


def _diagnose_sr(spec: dict, x, scales, got_y, words, rows: np.ndarray) -> list[str]:
    """Stochastic sets: do the elements of the blocks with the right scale fit the random words
    offset by k draws, or the low r bits of each draw word?"""
    from .classes import LOW_BITS_NOTE, offset_note

    notes = []
    n, k = x.shape
    flat = words.reshape(-1)
    sel = np.flatnonzero(rows)
    for s in [t for t in range(-4, 5) if t]:
        w = np.roll(flat, -s).reshape(n, k)
        y, ok = _implied(spec, x[sel], scales[sel], w[sel])
        valid = np.ones((sel.size, k), bool)
        pos = sel[:, None] * k + np.arange(k)  # element positions in draw order
        valid &= (pos >= max(0, -s)) & (pos < n * k - max(0, s))  # words that wrapped around
        if ok.all() and np.array_equal(y[valid], got_y[sel][valid]):
            notes.append(offset_note(s))
    from .sets import lfsr_from_spec

    lf = lfsr_from_spec(spec.get("lfsr"))
    r = int(spec.get("sr_bits", 8))
    dw = lf.shifts or r
    if r < dw <= 64 and "shard" not in spec:
        low = (lf.draw(n * k, dw) & np.uint64((1 << r) - 1)).reshape(n, k)
        y, ok = _implied(spec, x[sel], scales[sel], low[sel])
        if ok.all() and np.array_equal(y, got_y[sel]):
            notes.append(LOW_BITS_NOTE)
    return notes


def _dot(res, vs, expected: dict, got: dict, off: int, keep: int) -> None:
    from .classes import CLASSES, _classify, _describe, _ulps

    spec = vs.spec
    bf = mx.block_of(spec)
    k = bf.block_size
    want, actual = np.asarray(expected["y"]), np.asarray(got["y"])
    st = res.blocks
    st.setdefault("op", "mx-dot")
    st["k"] = k
    st["blocks"] = st.get("blocks", 0) + vs.count
    idx = np.flatnonzero(want != actual)
    if not idx.size:
        return
    res.n_mismatches += int(idx.size)
    classes = _classify(vs, expected, idx)
    if spec.get("block_sum", "exact") == "exact":  # one rounding of the exact value: was it a tie?
        tie = _dot_ties(spec, expected, idx)
        classes[(classes == CLASSES.index("normal")) & tie] = CLASSES.index("tie")
    for c, n in zip(*np.unique(classes, return_counts=True), strict=True):
        res.by_class[CLASSES[c]] = res.by_class.get(CLASSES[c], 0) + int(n)
    fmts = vs.formats
    acc = fmts["y"]
    for n, i in enumerate(idx[:max(0, keep - len(res.mismatches))].tolist()):
        e, g = int(want[i]), int(actual[i])
        res.mismatches.append({
            "index": off + i, "class": CLASSES[classes[n]],
            "inputs": {p["name"]: _describe(fmts[p["name"]], p["bits"], int(expected[p["name"]][i]))
                       for p in vs.inputs},
            "about": "; ".join(_about_operand(expected, name, i, bf) for name in ("a", "b")),
            "y": {"expected": _describe(acc, acc.bits, e), "actual": _describe(acc, acc.bits, g),
                  "ulps": _ulps(acc, e, g)}})


def _about_operand(values: dict, name: str, i: int, bf) -> str:
    from .classes import _hex

    k = bf.block_size
    s = int(values[f"scale_{name}"][i])
    sv = float(bf.scale.code_value(s))
    codes = [_hex(bf.element.bits, int(values[f"{name}{j}"][i])) for j in range(k)]
    shown = " ".join(codes[:_SHOWN_ELEMENTS]) + (" ..." if k > _SHOWN_ELEMENTS else "")
    return f"{name.upper()}: scale_{name}={_hex(bf.scale.bits, s)} ({sv!r}) {name}=[{shown}]"


def _dot_ties(spec: dict, expected: dict, idx: np.ndarray) -> np.ndarray:
    """Was the exact dot product of each vector halfway between two accumulator values?"""
    k = mx.block_of(spec).block_size
    a, b = mx.stack(expected, "a", k)[idx], mx.stack(expected, "b", k)[idx]
    sa = np.asarray(expected["scale_a"]).astype(np.uint64)[idx]
    sb = np.asarray(expected["scale_b"]).astype(np.uint64)[idx]
    out = np.zeros(idx.size, bool)
    base = {key: v for key, v in spec.items() if key not in ("lfsr", "sr_bits", "eps", "direction")}
    for i in range(idx.size):
        try:
            ya = mx.dot_blocks({**base, "acc_rounding": "rna"}, a[i:i + 1], sa[i:i + 1], b[i:i + 1],
                               sb[i:i + 1], None)
            yz = mx.dot_blocks({**base, "acc_rounding": "rnz"}, a[i:i + 1], sa[i:i + 1], b[i:i + 1],
                               sb[i:i + 1], None)
        except ValueError:
            continue
        out[i] = ya[0] != yz[0]
    return out


def summary(blocks: dict) -> list[str]:
    """The report's lines on blocks (mx-quantize: scale and element mismatches apart)."""
    if blocks.get("op") != "mx-quantize":
        return []
    n, k = blocks["blocks"], blocks["k"]
    s, ex = blocks["scale"], blocks["explained"]
    lines = [f"  scale: {s} of {n} blocks differ"
             + (f" (their {ex} element mismatches follow from the actual scale)" if ex else "")]
    lines.append(f"  element: {blocks['elements']} of {n * k} elements (in {blocks['element_blocks']} of "
                 f"{n} blocks) differ from the set's, not explained by their block's scale")
    return lines
