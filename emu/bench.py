"""Benchmark suite behind ``emu bench``: emu's throughput at the chosen thread count and on one
thread, the reference libraries' on the same job when installed (they run on one thread), and a
same-run ceiling for each job where one exists, all measured in the same run. Throughput is the
median over repeated runs after warm-up.

The ceilings (``ceiling`` names each; ``ceiling_fraction`` = emu_melem_s / ceiling_melem_s):

- conversions (encode, sr, decode, float -> fixed): a plain numba copy loop with the same input
  and output types (``emu.kernels.memory.copy``) split over the same threads, timed twice: into
  one output array reused every call (``ceiling_melem_s``), and into a fresh ``np.empty`` output
  every call (``ceiling_alloc_melem_s``), as emu's API allocates its result every call (a large
  fresh output is page-faulted on first touch: the two differ most for the 8-byte decode output);
- elementwise add / mul: a loop reading two code arrays and writing one (``memory.combine``);
- the fp32-accumulator and fixed-point MAC matmuls: the host's floating-point peak, numpy's BLAS
  gemm of the same operands' values (sgemm of the e4m3 values as float32; dgemm of the s8.4
  codes as float64, exact: products < 2**14, 256 of them < 2**22), output rows split over the
  same threads, BLAS held to one thread per call; BLAS sums in its own order, so it is a
  roofline, not the same job;
- the emulated-accumulator (e8m13) matmul: a peer, the fp32-accumulator path's same-run rate;
- the digits epoch: a peer, the same epoch with fp32 weights and rne (emu's native fp32 paths);
- the MNIST-shaped epoch and the block matmuls: none (``--job mnist-epoch`` times the fp32 rne
  epoch beside the e4m3 one; a peer epoch in the default suite would double its longest row).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import NamedTuple

import numpy as np

from . import ops, parallel
from .arith import context
from .kernels import memory
from .registers import Registers


class Ceiling(NamedTuple):
    """A job's same-run ceiling: what it is, its rate, and (copy ceilings) its rate when it
    allocates its output every call, as emu does."""
    kind: str
    melem_s: float
    alloc_melem_s: float | None = None


def _rate(fn: Callable[[], object], n: int, repeat: int) -> float:
    fn()  # warm-up: compile, build tables, fault pages in
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n / float(np.median(times)) / 1e6


def _split(n: int, min_block: int = parallel.MIN_BLOCK):
    return parallel.blocks(n, parallel.resolve(None), min_block)  # the suite's threads


def _ceiling(srcs: tuple[np.ndarray, ...], out_dtype, repeat: int, kind: str) -> Ceiling:
    """``memory.copy`` (one source) or ``memory.combine`` (two) on the suite's threads (run_suite
    sets them in emu.context), into a reused output and into a fresh one per call."""
    kernel = memory.copy if len(srcs) == 1 else memory.combine
    n = srcs[0].size
    ranges = _split(n)

    def into(out):
        parallel.run(lambda a, b: kernel(*(s[a:b] for s in srcs), out[a:b]), ranges)
        return out

    reused = np.empty(n, out_dtype)
    return Ceiling(kind, _rate(lambda: into(reused), n, repeat),
                   _rate(lambda: into(np.empty(n, out_dtype)), n, repeat))


def _blas_setter():
    """numpy's OpenBLAS thread-count setter and getter (found as threadpoolctl finds them: the
    loaded library's exported symbols), or None."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
    except OSError:  # pragma: no cover - not Linux
        return None
    for path in sorted(libs):
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", "_64_", ""):
                try:
                    return (getattr(lib, f"{prefix}_set_num_threads{suffix}"),
                            getattr(lib, f"{prefix}_get_num_threads{suffix}"))
                except AttributeError:
                    continue
    return None


def _matmul_ceiling(a: np.ndarray, b: np.ndarray, repeat: int, kind: str) -> Ceiling:
    """numpy's ``a @ b`` (BLAS gemm), output rows split over the suite's threads with BLAS held
    to one thread per call (OpenBLAS's own threads spin: on a busy 2-vCPU VM they ran 256^3 at
    0.5 GMAC/s, one thread at 14-30); MAC/s. Without a way to hold BLAS to one thread, the
    kind says "BLAS's threads"."""
    ranges = _split(a.shape[0], 1)
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    setter = _blas_setter()

    def run():
        parallel.run(lambda i, j: np.matmul(a[i:j], b, out=out[i:j]), ranges)

    if setter is None:
        return Ceiling(f"{kind} (BLAS's threads)", _rate(run, a.size * b.shape[1], repeat))
    set_threads, get_threads = setter
    before = get_threads()
    set_threads(1)
    try:
        return Ceiling(kind, _rate(run, a.size * b.shape[1], repeat))
    finally:
        set_threads(before)


def _on(threads: int, fn: Callable[[], object]) -> Callable[[], object]:
    def run():
        with context(threads=threads):
            return fn()
    return run


def _row(name: str, rate: float, one: float, ceiling: Ceiling | None, *, reference=None,
         reference_rate=None, agrees=None, **extra) -> dict:
    """One result row (the JSON ``emu bench`` prints); ``extra``: further keys."""
    c = ceiling
    alloc = c.alloc_melem_s if c else None
    return {
        "job": name,
        "emu_melem_s": rate,
        "reference": reference,
        "reference_melem_s": reference_rate,
        "ratio": rate / reference_rate if reference_rate else None,
        "ceiling": c.kind if c else None,
        "ceiling_melem_s": c.melem_s if c else None,
        "ceiling_fraction": rate / c.melem_s if c else None,
        "ceiling_alloc_melem_s": alloc,
        "ceiling_alloc_fraction": rate / alloc if alloc else None,
        "agrees": agrees,
        "threads": parallel.resolve(None),  # the suite's, from run_suite's context
        "emu_1thread_melem_s": one,
        "speedup": rate / one,
        **extra,
    }


def _job(name, emu_fn, n, repeat, ceiling: Ceiling | None, ref_name=None, ref_fn=None,
         ref_n=None, *, agree=None, measured=None, **extra):
    """One row: emu's rate at the suite's threads and on one; the reference's, and whether its
    output equals emu's (``agree(emu_out, ref_out)``, default: emu's first ``ref_n`` codes
    flattened). ``measured``: emu's (output, rate, 1-thread rate) from ``_measure``, to put
    a second reference beside the same emu figures (announced by the caller)."""
    if measured is None:
        _starting(name)
    emu_out, emu_rate, one = measured or _measure(emu_fn, n, repeat)
    ref_rate = agrees = None
    if ref_fn is not None:
        ref_out = ref_fn()
        m = ref_n or n
        if agree is None:
            agrees = bool(np.array_equal(np.asarray(emu_out).reshape(-1)[:m], ref_out))
        else:
            agrees = bool(agree(emu_out, ref_out))
        ref_rate = _rate(ref_fn, m, repeat)
    return _row(name, emu_rate, one, ceiling, reference=ref_name if ref_fn is not None else None,
                reference_rate=ref_rate, agrees=agrees, **extra)


def _measure(emu_fn, n, repeat):
    """(output, rate at the suite's threads, rate on one thread)."""
    threads = parallel.resolve(None)
    emu_out = _on(threads, emu_fn)()
    emu_rate = _rate(_on(threads, emu_fn), n, repeat)
    one = emu_rate if threads == 1 else _rate(_on(1, emu_fn), n, repeat)
    return emu_out, emu_rate, one


_ANNOUNCE: ContextVar = ContextVar("emu_bench_announce", default=None)


def run_suite(size: int = 10_000_000, repeat: int = 7, seed: int = 0,
              threads: int | None = None, progress: Callable[[str], None] | None = None,
              job: str = "kernels") -> list[dict]:
    """Run every job of ``job`` ("kernels": the suite, its last row an MNIST-shaped epoch of
    ``mnist_samples(size)`` samples; "blocks": MX block quantization and matmul, see
    ``_block_jobs``; or "mnist-epoch": MNIST-shaped training epochs, ``size`` samples, at most
    60,000); each dict has job, emu_melem_s (at ``threads``, default every core), reference,
    reference_melem_s, ratio, ceiling (what the same-run ceiling is, see the module doc; None:
    no ceiling), ceiling_melem_s, ceiling_fraction (emu_melem_s / ceiling_melem_s),
    ceiling_alloc_melem_s and ceiling_alloc_fraction (copy ceilings that allocate their output
    every call; else None), agrees (bit-exact agreement with the reference, None without one),
    threads, emu_1thread_melem_s and speedup; training rows (rates in Msamples/s) also samples
    and epoch_s (seconds per epoch at ``threads``). ``progress(job name)`` is called as each
    job starts."""
    token = _ANNOUNCE.set(progress)
    try:
        with context(threads=parallel.resolve(threads)):
            if job == "mnist-epoch":
                return _mnist_jobs(min(size, MNIST_SAMPLES), seed)
            if job == "blocks":
                return _block_jobs(size, repeat, seed)
            return _jobs(size, repeat, seed)
    finally:
        _ANNOUNCE.reset(token)


def _starting(name: str) -> None:
    announce = _ANNOUNCE.get()
    if announce is not None:
        announce(name)


def _jobs(size: int, repeat: int, seed: int) -> list[dict]:
    try:
        import ml_dtypes
    except ImportError:  # pragma: no cover - optional oracle
        ml_dtypes = None
    try:
        import apytypes
    except ImportError:  # pragma: no cover
        apytypes = None

    rng = np.random.default_rng(seed)
    x32 = (rng.standard_normal(size) * 64).astype(np.float32)
    x64 = x32.astype(np.float64)
    jobs = []
    c_enc = _ceiling((x32.view(np.uint32),), np.uint8, repeat, "copy u32->u8")
    for name, dt in (("e4m3", "float8_e4m3fn"), ("e5m2", "float8_e5m2")):
        ref = None
        if ml_dtypes:
            dtype = getattr(ml_dtypes, dt)
            def ref(d=dtype):
                return (x32.astype(d).view(np.uint8))
        jobs.append(_job(f"float32 -> {name} rne encode",
                         lambda n=name: ops.quantize(x32, n).codes, size, repeat, c_enc,
                         "ml_dtypes", ref))
    from .lfsr import LFSR

    for lanes in (1, 8):
        jobs.append(_job(f"float32 -> e4m3 sr r=8 (LFSR32, {lanes} lane{'s' * (lanes > 1)})",
                         lambda n=lanes: ops.quantize(x32, "e4m3", "sr", sr_bits=8,
                                                      rng=LFSR(seed=1, lanes=n)).codes,
                         size, repeat, c_enc))
    regs = ops.quantize(x32, "e4m3")
    ref = (lambda: regs.codes.view(ml_dtypes.float8_e4m3fn).astype(np.float64)) if ml_dtypes else None
    jobs.append(_job("e4m3 -> float64 decode", regs.to_float, size, repeat,
                     _ceiling((regs.codes,), np.float64, repeat, "copy u8->f64"), "ml_dtypes",
                     ref))
    ref = None
    m = min(size, 1_000_000)  # apytypes is slow: time it on a prefix
    if apytypes:
        def ref():
            a = apytypes.APyFixedArray.from_float(x64[:m], int_bits=80, frac_bits=60)
            return np.asarray(a.cast(int_bits=8, frac_bits=8,
                                      quantization=apytypes.QuantizationMode.TIES_EVEN,
                                      overflow=apytypes.OverflowMode.SAT).to_bits(), np.uint16)
    jobs.append(_job("float64 -> s16.8 rne sat", lambda: ops.quantize(x64, "s16.8").codes, size,
                     repeat, _ceiling((x64,), np.int16, repeat, "copy f64->i16"), "apytypes", ref,
                     m))
    jobs += _arith_jobs(size, repeat, rng, ml_dtypes)
    jobs.append(_training_job(repeat))
    jobs += _mnist_jobs(mnist_samples(size), seed, MNIST_EPOCHS[:1])
    return jobs


def _training_job(repeat: int) -> dict:
    """One epoch of softmax regression on the shipped digits, fully emulated (e4m3 weights, fp32
    sequential accumulation, sr updates, batch 32); rate in samples/s (as Melem/s). Its peer:
    the same epoch with fp32 weights and rne (emu's native fp32 paths), at the suite's threads."""
    name = "digits softmax, 1 epoch e4m3/fp32-acc/sr (Msamples/s)"
    _starting(name)
    from .train.data import digits
    from .train.linear import TrainConfig, train

    data = digits()
    cfg = TrainConfig(model="softmax", weights="e4m3", acc="fp32", rounding="sr", lr=0.5, epochs=1,
                      batch=32)
    fp32 = TrainConfig(model="softmax", weights="fp32", acc="fp32", rounding="rne", lr=0.5,
                       epochs=1, batch=32)
    repeat = max(1, repeat // 2)
    peer = Ceiling("fp32/rne epoch (peer)", _rate(lambda: train(data, fp32), len(data), repeat))
    row = _job(name, lambda: train(data, cfg), len(data), repeat, peer)
    return {**row, "samples": len(data), "epoch_s": len(data) / row["emu_melem_s"] / 1e6}


MNIST_SAMPLES = 60_000  # MNIST's training set: the mnist-epoch job's size and its cap
MNIST_MIN = 320  # the default suite's MNIST-shaped row never runs fewer samples (10 batches)


def mnist_samples(size: int) -> int:
    """The default suite's MNIST-shaped epoch: 60,000 samples at the default 10M-element size,
    scaled with ``size`` below it (--quick: 600), at least MNIST_MIN."""
    return min(MNIST_SAMPLES, max(MNIST_MIN, size * MNIST_SAMPLES // 10_000_000))


def mnist_shaped(n: int = MNIST_SAMPLES, seed: int = 0):
    """Synthetic data of MNIST's shape: n x 784 uint8 pixels / 255 (seeded), 10 classes, each
    label the argmax of a fixed random linear map (learnable, so training is not degenerate)."""
    from .train.data import Dataset

    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, (n, 784), dtype=np.uint8) / 255.0
    y = np.argmax(X @ rng.standard_normal((784, 10)), axis=1)
    return Dataset(X, y, "mnist-shaped", 10)


MNIST_EPOCHS = (  # (row, TrainConfig fields): batch 32, fp32 accumulation, the default lr
    ("softmax, e4m3 weights, sr update", {"model": "softmax", "weights": "e4m3", "rounding": "sr"}),
    ("mlp 784-32-10, e4m3 weights, sr update", {"model": "mlp", "weights": "e4m3",
                                                "rounding": "sr"}),
    ("softmax, fp32 everywhere, rne", {"model": "softmax", "weights": "fp32", "rounding": "rne"}),
)


def _mnist_jobs(n: int, seed: int, epochs=MNIST_EPOCHS) -> list[dict]:
    """One epoch per row of ``epochs`` at the suite's threads and one on a single thread (an
    epoch is long: no repeats), after a 64-sample warm-up run that compiles; rate in samples/s
    (as Melem/s); no ceiling."""
    from .train.linear import TrainConfig, train

    data, warm = mnist_shaped(n, seed), mnist_shaped(64, seed)
    jobs = []
    for name, fields in epochs:
        cfg = TrainConfig(acc="fp32", epochs=1, batch=32, **fields)  # lr: the default, LR
        title = f"MNIST-shaped {n:,} x 784, 1 epoch, {name} (Msamples/s)"
        _starting(title)
        threads = parallel.resolve(None)
        train(warm, cfg)  # compiles what the row runs
        rates = []
        for t in (threads, 1) if threads > 1 else (threads,):
            with context(threads=t):
                start = time.perf_counter()
                train(data, cfg)
                rates.append(n / (time.perf_counter() - start) / 1e6)
        jobs.append(_row(title, rates[0], rates[-1], None, samples=n,
                         epoch_s=n / rates[0] / 1e6))
    return jobs


def _arith_jobs(size, repeat, rng, ml_dtypes):
    """Elementwise e4m3 add/mul (rne) and matmul accumulator models; MAC rates in MMAC/s are
    reported in the emu_melem_s column (one MAC = one element)."""
    from .arith import add, mul
    from .linalg import mac_accumulator, matmul

    jobs = []
    a = ops.quantize((rng.standard_normal(size) * 8).astype(np.float32), "e4m3")
    b = ops.quantize((rng.standard_normal(size) * 8).astype(np.float32), "e4m3")
    ceiling = _ceiling((a.codes, b.codes), np.uint8, repeat, "u8,u8->u8 loop")
    for name, fn, sym in (("add", add, np.add), ("mul", mul, np.multiply)):
        ref = None
        if ml_dtypes:
            x = a.codes.view(ml_dtypes.float8_e4m3fn)
            y = b.codes.view(ml_dtypes.float8_e4m3fn)

            def ref(f=sym, x=x, y=y):
                with np.errstate(all="ignore"):
                    return f(x, y).view(np.uint8)
        jobs.append(_job(f"e4m3 {name} rne", lambda f=fn: f(a, b).codes, size, repeat, ceiling,
                         "ml_dtypes", ref))
    n = 256
    A = ops.quantize(rng.standard_normal((n, n)), "e4m3")
    B = ops.quantize(rng.standard_normal((n, n)), "e4m3")
    macs = n ** 3
    f32 = [r.to_float().astype(np.float32) for r in (A, B)]  # exact
    jobs.append(_job("e4m3 256^3 matmul, fp32 sequential acc (MMAC/s)",
                     lambda: matmul(A, B, acc="fp32").codes, macs, repeat,
                     _matmul_ceiling(*f32, repeat, "BLAS sgemm")))
    peer = Ceiling("fp32-acc path (peer)", jobs[-1]["emu_melem_s"])
    small = 32  # the emulated accumulator runs the core per MAC: time a 32-row slab
    jobs.append(_job("e4m3 matmul, e8m13 rtz acc (MMAC/s)",
                     lambda: matmul(A[:small], B, acc="e8m13", acc_rounding="rtz").codes,
                     small * n * n, max(1, repeat // 3), peer))
    X = Registers.from_codes(rng.integers(0, 256, (n, n)), "s8.4")
    Y = Registers.from_codes(rng.integers(0, 256, (n, n)), "s8.4")
    acc = mac_accumulator("s8.4", "s8.4", 17)  # s32.8
    f64 = [r.codes.astype(np.int8).astype(np.float64) for r in (X, Y)]  # signed codes, exact
    jobs.append(_job("s8.4 256^3 MAC into s32.8 (MMAC/s)",
                     lambda: matmul(X, Y, acc=acc, acc_overflow="wrap").codes, macs, repeat,
                     _matmul_ceiling(*f64, repeat, "BLAS dgemm")))
    return jobs


# --- block formats (OCP MX) --------------------------------------------------------------------
GFLOAT_ELEMENTS = 1024  # gfloat quantizes block by block in Python: timed on this many elements
BLOCK_MATMUL = 256  # M = K = N of the block matmul rows; --quick (size < 1M) times 64 rows of A


def _gfloat_ref(x32: np.ndarray, name: str):
    """gfloat's MX quantization of x32's first GFLOAT_ELEMENTS (whole blocks): per block
    compute_scale_amax (OCP MX floor) and encode_block (rne, saturating), giving the scale code
    then the element codes; None without gfloat."""
    try:
        from gfloat import RoundMode
        from gfloat.block import compute_scale_amax, encode_block
        from gfloat.formats import format_info_mxfp4_e2m1, format_info_mxfp8_e4m3
    except ImportError:  # pragma: no cover - optional oracle
        return None
    fi = {"mxfp8_e4m3": format_info_mxfp8_e4m3, "mxfp4": format_info_mxfp4_e2m1}[name]
    m = min(GFLOAT_ELEMENTS, x32.size - x32.size % fi.k)
    blocks = x32[:m].astype(np.float64).reshape(-1, fi.k)

    def ref():
        out = []
        for b in blocks:
            scale = compute_scale_amax(fi.etype.emax, b)
            out.extend(encode_block(fi, scale, b / scale, RoundMode.TiesToEven))
        return np.array(out, np.uint8)

    def agree(regs, got):
        k = fi.k
        mine = np.concatenate([regs.scales[:m // k, None], regs.codes[:m].reshape(-1, k)], axis=1)
        return np.array_equal(mine.reshape(-1), got)

    return ref, m, agree


def _torchao_ref(x32: np.ndarray, name: str):
    """torchao's to_mx (FLOOR scaling, one thread) of x32's first whole pairs of blocks: e8m0
    scales and float8_e4m3fn elements, or e2m1 packed two to a byte (first in the low nibble);
    None without torch and torchao."""
    try:
        import torch
        from torchao.prototype.mx_formats.mx_tensor import to_mx
    except Exception:  # pragma: no cover - optional: ImportError, or a broken native build
        return None
    m = x32.size - x32.size % 64
    xt = torch.from_numpy(x32[:m])
    dtype = torch.float8_e4m3fn if name == "mxfp8_e4m3" else torch.float4_e2m1fn_x2

    def ref():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return to_mx(xt, dtype, 32)
        finally:
            torch.set_num_threads(threads)

    def agree(regs, got):
        scales, data = (t.view(torch.uint8).numpy() for t in got)
        codes = regs.codes[:m]
        if name == "mxfp4":
            codes = codes[0::2] | (codes[1::2] << np.uint8(4))
        return np.array_equal(scales, regs.scales[:m // 32]) and np.array_equal(data, codes)

    return ref, m, agree


def _block_jobs(size: int, repeat: int, seed: int) -> list[dict]:
    """MX block formats: float32 -> MXFP8 (e4m3) and MXFP4 quantization (rne, and sr with r = 8
    from a one-lane LFSR), beside gfloat and torchao where installed (single-threaded), after
    the plain e4m3 rne encode of the same data as a same-run ceiling; then a 256^3 MXFP8
    matmul with fp32 sequential accumulation, exact block sums and per-product terms
    (MMAC/s). The copy ceiling is the kernels suite's (4-byte in, 1-byte out)."""
    from . import blocks
    from .blockdot import matmul as block_matmul
    from .blocks import BlockRegisters
    from .lfsr import LFSR

    rng = np.random.default_rng(seed)
    x32 = (rng.standard_normal(size) * 64).astype(np.float32)
    ceiling = _ceiling((x32.view(np.uint32),), np.uint8, repeat, "copy u32->u8")
    jobs = [_job("float32 -> e4m3 rne encode (no blocks: same-run ceiling)",
                 lambda: ops.quantize(x32, "e4m3").codes, size, repeat, ceiling)]
    for name, label in (("mxfp8_e4m3", "MXFP8 e4m3"), ("mxfp4", "MXFP4 e2m1")):
        title = f"float32 -> {label} rne quantize"
        refs = [(lib, r) for lib, r in (("gfloat", _gfloat_ref(x32, name)),
                                         ("torchao", _torchao_ref(x32, name))) if r is not None]
        _starting(title)
        measured = _measure(lambda n=name: blocks.quantize(x32, n), size, repeat)
        for lib, (ref, m, agree) in refs or [(None, (None, None, None))]:
            jobs.append(_job(title, None, size, repeat, ceiling, lib, ref, m, agree=agree,
                             measured=measured))
        jobs.append(_job(f"float32 -> {label} sr r=8 quantize (LFSR32, 1 lane)",
                         lambda n=name: blocks.quantize(x32, n, "sr", sr_bits=8,
                                                     rng=LFSR(seed=1)).codes,
                         size, repeat, ceiling))
    n = BLOCK_MATMUL
    rows = n if size >= 1_000_000 else 64
    A = blocks.quantize(rng.standard_normal((n, n)).astype(np.float32), "mxfp8_e4m3", axis=1)
    B = blocks.quantize(rng.standard_normal((n, n)).astype(np.float32), "mxfp8_e4m3", axis=0)
    a = BlockRegisters._wrap(A._codes[:rows], A._scales[:rows], A.format, 1)
    for block_sum in ("exact", "products"):
        jobs.append(_job(f"MXFP8 {rows}x{n}x{n} matmul, fp32 seq acc, block_sum={block_sum} "
                         "(MMAC/s)",
                         lambda bs=block_sum: block_matmul(a, B, "fp32", block_sum=bs).codes,
                         rows * n * n, max(1, repeat // 2) if block_sum == "exact" else repeat,
                         None))
    return jobs
