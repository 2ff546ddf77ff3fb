"""``emu.context``: defaults for the calls inside a ``with`` block (rounding, random source,
thread count), kept in a context variable so threads and async tasks each see their own.

``with emu.context(rounding="sr", rng=emu.LFSR(seed=1)): c = a + b`` rounds every operator
stochastically. The context holds an emu.Rounding; loose options (``sr_bits``, ``eps``,
``form``, ``saturate``, ``overflow``) are also kept and apply to any call that names a mode
they fit. Conversions (``quantize``, ``convert``) take their rounding from their arguments;
every kernel takes its thread count from here when a call does not give one.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, fields, replace

from .rounding import EPS_MODES, Rounding, as_rounding, canonical, is_stochastic
from .validate import flag, optional_integer, real


@dataclass(frozen=True)
class Context:
    """Defaults for arithmetic: the rounding (an emu.Rounding), its loose options, the random
    source, and the thread count of every kernel (quantize, convert and matmul included)."""

    rounding: Rounding = Rounding()
    saturate: bool | None = None
    overflow: str | None = None
    rng: object = None
    sr_bits: int | None = None
    eps: float | None = None
    form: str | None = None
    threads: int | None = None  # None: every core (see emu.parallel)

    def options(self, mode: str) -> dict:
        """The loose options that apply to ``mode`` (a name)."""
        opts = {"saturate": self.saturate, "overflow": self.overflow}
        if is_stochastic(mode):
            opts.update(sr_bits=self.sr_bits, form=self.form)
            if canonical(mode) in EPS_MODES:
                opts["eps"] = self.eps
        return {k: v for k, v in opts.items() if v is not None}


_CONTEXT: contextvars.ContextVar[Context] = contextvars.ContextVar(
    "emu_context", default=Context()  # noqa: B039 - Context is a frozen dataclass
)
_FIELDS = tuple(f.name for f in fields(Context))


def _checked(ctx: Context, rounding) -> Context:
    """The context with its settings validated (a bad value fails here, not later) and its
    Rounding rebuilt from the mode and the options that apply to it."""
    from .sources import check_source

    ctx = replace(
        ctx, threads=optional_integer(ctx.threads, "threads", 1),
        sr_bits=optional_integer(ctx.sr_bits, "sr_bits", 1),
        rng=None if ctx.rng is None else check_source(ctx.rng),
        eps=None if ctx.eps is None else real(ctx.eps, "eps"),
        saturate=None if ctx.saturate is None else flag(ctx.saturate, "saturate"))
    if isinstance(rounding, Rounding):
        return replace(ctx, rounding=rounding)
    mode = rounding if rounding is not None else ctx.rounding.mode
    opts = ctx.options(mode.partition(":")[0] if isinstance(mode, str) else mode)
    return replace(ctx, rounding=as_rounding(mode, **opts))


@contextlib.contextmanager
def context(**settings):
    """``with emu.context(rounding="rtz", overflow="wrap"): c = a + b`` sets operator defaults
    (any Context field; ``rounding`` a name or an emu.Rounding; an unknown name is a TypeError)."""
    unknown = set(settings) - set(_FIELDS)
    if unknown:
        raise TypeError(f"unknown context setting(s) {', '.join(sorted(unknown))}; valid: "
                        f"{', '.join(_FIELDS)}")
    rounding = settings.pop("rounding", None)
    token = _CONTEXT.set(_checked(replace(_CONTEXT.get(), **settings), rounding))
    try:
        yield _CONTEXT.get()
    finally:
        _CONTEXT.reset(token)


def current_context() -> Context:
    return _CONTEXT.get()


def rounding_for(rounding=None, *, saturate=None, overflow=None, sr_bits=None, eps=None,
                 form=None) -> Rounding:
    """A call's Rounding: its own arguments, else the context's (options carried over where
    they apply to the call's mode)."""
    ctx = current_context()
    explicit = {k: v for k, v in (("saturate", saturate), ("overflow", overflow),
                                  ("sr_bits", sr_bits), ("eps", eps), ("form", form))
                if v is not None}
    if isinstance(rounding, Rounding):
        return as_rounding(rounding, **explicit)
    if rounding is None:
        return as_rounding(None, defaults=ctx.rounding, **explicit)
    mode = ctx.rounding.mode if rounding is None else rounding
    opts = ctx.options(mode.partition(":")[0] if isinstance(mode, str) else mode)
    return as_rounding(mode, **{**opts, **explicit})
