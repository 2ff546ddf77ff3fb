"""Vendor conversion profiles: the conventions a vendor's conversion follows where OCP leaves
freedom (docs/semantics.md §3.5), applied in this one place at the Python face after the
rounding core. There is no second rounding core: a profile re-encodes NaN (and, for AMD, Inf)
results the core produced, and maps a vendor's random operand onto the core's SR word R.

A profile is a small frozen value; ``Profile.named(name)`` looks one up (``ocp``, the default,
is today's behaviour bit for bit; ``nvidia``, ``amd``, ``riscv``). Every convention is a field:

- ``nan``: how a NaN result is encoded. ``"sign"`` (OCP and emu, §3.1): the canonical NaN with
  the sign of the NaN produced. ``"positive"`` (RISC-V): the canonical NaN, sign always 0.
  ``"cuda"`` (cuda_fp8.hpp): into e4m3/e5m2 only, float64 inputs keep the sign (e5m2 also
  double bit 50 as its mantissa LSB), every other NaN is 0x7f.
- ``sr``: how the random operand is read. ``"emu"`` (§6): R is the r-bit word the source gives.
  ``"amd"``: into the four FP8 formats, one 32-bit operand per element and r = 23 - M; R is its
  low r bits (e4m3fnuz / e5m2fnuz, the MI300 software model) or its high r bits (e4m3 / e5m2,
  the gfx950 host model).
- ``inf``: an infinite input into an fnuz format while saturating. ``"saturate"`` (§3.2): ±max.
  ``"nan"`` (AMD): the NaN 0x80.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .formats import FloatFormat, Format
from .formats import format as parse_format

if TYPE_CHECKING:
    import numpy as np

    from .sources import Draws

NAN_RULES = ("sign", "positive", "cuda")
SR_RULES = ("emu", "amd")
INF_RULES = ("saturate", "nan")
F32_MAN = 23  # the vendors' SR conversions take a float32 operand (docs/semantics.md §3.5)


@dataclass(frozen=True)
class Profile:
    """Conventions of one vendor's conversions (docs/semantics.md §3.5); see the module doc for
    the fields. ``source`` cites where they come from."""

    name: str
    nan: str = "sign"
    sr: str = "emu"
    inf: str = "saturate"
    source: str = ""

    def __post_init__(self) -> None:
        for field, valid in (("nan", NAN_RULES), ("sr", SR_RULES), ("inf", INF_RULES)):
            if getattr(self, field) not in valid:
                raise ValueError(f"Profile {field}={getattr(self, field)!r}; valid: "
                                 f"{', '.join(valid)}")

    @property
    def is_ocp(self) -> bool:
        """Does the profile change nothing (emu's own conventions)?"""
        return (self.nan, self.sr, self.inf) == ("sign", "emu", "saturate")

    @classmethod
    def named(cls, name) -> Profile:
        """The named profile (any case), or ``name`` itself if it is a Profile; ValueError
        listing the valid names otherwise."""
        if isinstance(name, Profile):
            return name
        key = name.strip().lower() if isinstance(name, str) else None
        if key not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}")
        return PROFILES[key]

    def __str__(self) -> str:
        return self.name


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("ocp", source="OCP 8-bit Floating Point Specification (OFP8) rev. 1.0; emu's "
                          "canonical NaN, docs/semantics.md §3.1"),
    Profile("nvidia", nan="cuda",
            source="NVIDIA CUDA 12.2.1 include/cuda_fp8.hpp, __nv_cvt_double_to_fp8 and "
                   "__nv_cvt_float_to_fp8 (host path)"),
    Profile("amd", sr="amd", inf="nan",
            source="AMD HIP amd_detail/amd_hip_fp8.h (cast_to_f8, from rocBLAS "
                   "rocblas_hip_f8_impl.h: MI300 FNUZ) and amd_detail/amd_hip_ocp_host.hpp "
                   "(from_float_sr: gfx950 OCP)"),
    Profile("riscv", nan="positive",
            source="RISC-V Unprivileged ISA, F extension, NaN generation and propagation: the "
                   "canonical NaN has a positive sign and only the quiet bit set"),
)}
OCP = PROFILES["ocp"]


def resolve(profile, default: Profile | None = None) -> Profile:
    """A call's profile: its own (a name or a Profile), else ``default`` (the innermost
    ``emu.context``'s), else ocp."""
    return Profile.named(profile) if profile is not None else default or OCP


# --- stochastic rounding: the vendor's random operand as the core's word R (§3.5, §6) ----------
_FP8 = {"e4m3": "high", "e5m2": "high", "e4m3fnuz": "low", "e5m2fnuz": "low"}


def _sr_alignment(prof: Profile, dst: Format) -> str | None:
    """"low" / "high": where R sits in the 32-bit operand for this target; None: emu's rule."""
    if prof.sr != "amd":
        return None
    return next((side for name, side in _FP8.items() if parse_format(name) == dst), None)


def operand_bits(prof: Profile, dst: Format, bits: int) -> int:
    """The width of the random word one element consumes from the source: 32 (the vendor's
    operand) where an ``sr="amd"`` profile rounds into an FP8 format, else the r ``bits``."""
    return 32 if _sr_alignment(prof, dst) else bits


def draws(prof: Profile, rounding, dst: Format, shape: tuple, rng, direction=None,
          threads: int | None = None, lazy: bool = False) -> tuple[Draws, Draws]:
    """(the draws the kernels take, the words the call consumed as the source gave them).

    Under an ``sr="amd"`` profile, a stochastic rounding into an FP8 format draws one 32-bit
    operand per element and rounds with r = 23 - M random bits: R = operand mod 2**r (FNUZ) or
    operand >> (32 - r) (OCP). The hardware adds R to the r discarded bits and truncates, which
    is the carry form of §6.2 with that R, so the core computes it exactly. Every other case is
    ``emu.sources.draws`` unchanged (``lazy`` as there)."""
    import numpy as np  # here, not at the top: the command line's help lists the profiles

    from .sources import draws as source_draws

    side = _sr_alignment(prof, dst) if rounding.stochastic else None
    if side is None:
        drawn = source_draws(rounding, shape, rng, direction, threads, lazy)
        return drawn, drawn
    r = F32_MAN - dst.man_bits
    if rounding.mode != "sr" or rounding.form != "carry":
        raise ValueError(f"profile {prof.name}: AMD's FP8 conversion rounds stochastically by "
                         f"adding its random operand (mode sr, form carry), not "
                         f"{rounding.mode} ({rounding.form} form)")
    if rounding.bits != r:
        raise ValueError(f"profile {prof.name}: AMD's FP8 conversion into {dst.name} rounds with "
                         f"r = {r} random bits of its 32-bit operand (23 - {dst.man_bits}); pass "
                         f"sr_bits={r}")
    raw = source_draws(rounding.replace(bits=32), shape, rng, direction, threads)
    words = raw.words & np.uint64((1 << r) - 1) if side == "low" else raw.words >> np.uint64(32 - r)
    return raw._replace(rbits=r, words=words), raw


# --- NaN and Inf results (§3.5) -----------------------------------------------------------------
_CUDA = ("e4m3", "e5m2")  # cuda_fp8.hpp converts into these two OCP formats only


def _cuda_target(dst: Format) -> bool:
    return any(parse_format(n) == dst for n in _CUDA)


def _cuda_double_nan(dst: FloatFormat, values: np.ndarray) -> np.ndarray:
    """__nv_cvt_double_to_fp8 of float64 NaNs: 0x7f (e4m3) or 0x7e | bit 50 (e5m2), with the
    sign of the double."""
    import numpy as np

    bits = values.view(np.uint64)
    sign = (bits >> np.uint64(63)) << np.uint64(7)
    if dst.man_bits == 3:
        return np.uint64(0x7F) | sign
    return np.uint64(0x7E) | ((bits >> np.uint64(50)) & np.uint64(1)) | sign


def _reencode(prof: Profile, out: np.ndarray, dst: Format,
              cuda: Callable[[np.ndarray], None]) -> bool:
    """The NaN rules conversions and arithmetic share, in place: ``positive`` directly; ``cuda``
    (into e4m3/e5m2) by calling ``cuda(idx)`` with the indices of the NaN codes in ``out``.
    False when the profile leaves this target alone (ocp, or a fixed-point target)."""
    import numpy as np

    if prof.is_ocp or not isinstance(dst, FloatFormat):
        return False
    if prof.nan == "positive":
        _positive_nan(out, dst)
    elif prof.nan == "cuda" and _cuda_target(dst):
        idx = np.flatnonzero(dst.nan_mask(out))
        if idx.size:
            cuda(idx)
    return True


def finish_conversion(prof: Profile, out: np.ndarray, dst: Format, saturate: bool,
                      inputs: Callable[[np.ndarray], np.ndarray], wide: bool) -> None:
    """Re-encode, in place, the NaN and Inf results of a conversion under ``prof``. ``out``: the
    flat codes the core produced; ``inputs(idx)``: the input values at those indices as float64
    (NaN and Inf keep their class); ``wide``: the inputs are float64 host values (CUDA's double
    path), else they pass through float32 (CUDA's float path)."""
    import numpy as np

    def cuda(idx: np.ndarray) -> None:  # a NaN input; an overflow to NaN keeps its sign (§5.1)
        vals = _values(inputs, idx)
        nan = np.isnan(vals)
        out[idx[nan]] = _cuda_double_nan(dst, vals[nan]) if wide else 0x7F

    if _reencode(prof, out, dst, cuda) and prof.inf == "nan" and saturate \
            and dst.layout == "fnuz":
        idx = np.flatnonzero((out & (dst.sign_bit - 1)) == dst.max_code)
        if idx.size:
            out[idx[np.isinf(_values(inputs, idx))]] = dst.nan_code


def _values(inputs: Callable[[np.ndarray], np.ndarray], idx: np.ndarray) -> np.ndarray:
    """The inputs at idx as float64 (a signalling NaN widened quietly: only its class, sign and
    payload bits are read)."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        return np.asarray(inputs(idx), np.float64)


def finish_arithmetic(prof: Profile, out: np.ndarray, dst: Format, saturate: bool,
                      nan_results: Callable[[np.ndarray], np.ndarray]) -> None:
    """Re-encode, in place, the NaN results of an arithmetic operation under ``prof``.
    ``nan_results(idx)``: which of the elements at idx are NaN results (a NaN operand or an
    invalid operation) rather than an overflow to NaN; asked only where that can differ."""

    def cuda(idx: np.ndarray) -> None:
        # CUDA has no FP8 arithmetic: a result is computed wider and converted by
        # __nv_cvt_float_to_fp8, where a NaN becomes 0x7f and an overflow keeps its sign
        if not saturate and dst.layout == "fn":
            idx = idx[nan_results(idx)]
        out[idx] = 0x7F

    _reencode(prof, out, dst, cuda)


def _positive_nan(out: np.ndarray, dst: FloatFormat) -> None:
    """Every NaN code in ``out`` becomes the positive canonical NaN (RISC-V)."""
    if dst.nan_code is not None:
        out[dst.nan_mask(out)] = dst.nan_code
