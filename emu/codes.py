"""The integer codes shared by the Python face and the kernels: format kinds and families,
rounding modes, overflow policies. Plain ints, no numba, so that formats, rounding names and the
CLI's help load without compiling or importing anything heavy (the kernels read them as
compile-time constants)."""

KIND_FLOAT = 0
KIND_FIXED = 1

FAM_IEEE = 0
FAM_FN = 1
FAM_FNUZ = 2
FAM_FINITE = 3

# Rounding modes (names in emu.rounding). Deterministic first, stochastic from SR on.
RNE, RNA, RNZ, RNU, RND, RTZ, RDN, RUP, RAZ, RTO = range(10)
SR, SR_EPS, SIGNED_SR_EPS, SR_EQUAL = range(10, 14)
SR_MAX_BITS = 32

# Overflow policies. Floats: 0 = non-saturating (Inf or NaN), 1 = saturate to max finite.
# Fixed: 0 = wrap, 1 = sat (clamp to [min, max]), 2 = sat_sym (clamp to [-max, max]).
OVF_WRAP = 0
OVF_SAT = 1
OVF_SAT_SYM = 2
OVF_INF = 0
