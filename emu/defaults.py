"""``emu.context``: defaults for the calls inside a ``with`` block (rounding, random source,
thread count), kept in a context variable so threads and async tasks each see their own.

``with emu.context(rounding="sr", rng=emu.LFSR(seed=1)): c = a + b`` rounds every operator
stochastically. The context holds an emu.Rounding; loose options (``sr_bits``, ``eps``,
``form``, ``saturate``, ``overflow``) are also kept and apply to any call that names a mode
they fit. Conversions (``quantize``, ``convert``) take their rounding from their arguments;
every kernel takes its thread count from here when a call does not give one, and conversions
and elementwise arithmetic their vendor profile (``profile="nvidia"``, docs/semantics.md §3.5).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, fields, replace

from .rounding import Rounding, as_rounding, check_target_options, fitting
from .validate import optional_integer


@dataclass(frozen=True)
class Context:
    """Defaults for arithmetic: the rounding (an emu.Rounding), its loose options, the random
    source; and for every call, the thread count of every kernel (quantize, convert and matmul
    included) and the vendor profile (quantize, convert and the elementwise arithmetic)."""

    rounding: Rounding = Rounding()
    saturate: bool | None = None
    overflow: str | None = None
    rng: object = None
    sr_bits: int | None = None
    eps: float | None = None
    form: str | None = None
    threads: int | None = None  # None: every core (see emu.parallel)
    profile: object = None  # an emu.Profile or its name; None: ocp (docs/semantics.md §3.5)

    def options(self, mode: str) -> dict:
        """The loose options that apply to ``mode`` (a name)."""
        return fitting(mode, saturate=self.saturate, overflow=self.overflow,
                       sr_bits=self.sr_bits, form=self.form, eps=self.eps)


_CONTEXT: contextvars.ContextVar[Context] = contextvars.ContextVar(
    "emu_context", default=Context()  # noqa: B039 - Context is a frozen dataclass
)
_FIELDS = tuple(f.name for f in fields(Context))


_LOOSE = ("saturate", "overflow", "sr_bits", "eps", "form")


def _checked(ctx: Context, rounding, given: dict) -> Context:
    """The context with its settings validated (a bad value fails here, not at the first call)
    and its Rounding: ``rounding`` (a Rounding or a name; else the current one) with the loose
    options ``given`` now applied where they fit its mode."""
    from .profiles import Profile
    from .sources import check_source

    ctx = replace(ctx, threads=optional_integer(ctx.threads, "threads", 1),
                  rng=None if ctx.rng is None else check_source(ctx.rng),
                  profile=None if ctx.profile is None else Profile.named(ctx.profile))
    # every loose option must be valid for some mode: checked by the one validator, Rounding
    probe = Rounding("sr_eps", **{"eps": 0.0, **{"bits" if k == "sr_bits" else k: v
                                                  for k, v in given.items() if v is not None}})
    norm = {"sr_bits": probe.bits, "eps": probe.eps, "form": probe.form,
            "saturate": bool(probe.saturate), "overflow": given.get("overflow")}
    ctx = replace(ctx, **{k: None if v is None else norm[k] for k, v in given.items()})
    if isinstance(rounding, Rounding):
        opts = {k: v for k, v in ctx.options(rounding.mode).items() if k in given}
        return replace(ctx, rounding=as_rounding(rounding, **opts))
    if rounding is None:
        opts = {k: v for k, v in ctx.options(ctx.rounding.mode).items() if k in given}
        return replace(ctx, rounding=as_rounding(None, defaults=ctx.rounding, **opts))
    return replace(ctx, rounding=_named(rounding, ctx, {}))


def _named(rounding: str, ctx: Context, explicit: dict) -> Rounding:
    """A mode named by a call (or a context): the context's Rounding where its options fit the
    mode, its loose options over that, the call's own over both."""
    if not isinstance(rounding, str):
        raise TypeError(f"rounding must be a mode name or an emu.Rounding, not "
                        f"{type(rounding).__name__}")
    opts = ctx.options(rounding)
    return as_rounding(rounding, defaults=ctx.rounding, **{**opts, **explicit})


@contextlib.contextmanager
def context(**settings):
    """``with emu.context(rounding="rtz", overflow="wrap"): c = a + b`` sets operator defaults
    (any Context field; ``rounding`` a name or an emu.Rounding; an unknown name is a TypeError)."""
    unknown = set(settings) - set(_FIELDS)
    if unknown:
        raise TypeError(f"unknown context setting(s) {', '.join(sorted(unknown))}; valid: "
                        f"{', '.join(_FIELDS)}")
    rounding = settings.pop("rounding", None)
    given = {k: settings.pop(k) for k in _LOOSE if k in settings}
    token = _CONTEXT.set(_checked(replace(_CONTEXT.get(), **settings), rounding, given))
    try:
        yield _CONTEXT.get()
    finally:
        _CONTEXT.reset(token)


def current_context() -> Context:
    return _CONTEXT.get()


def rounding_for(rounding=None, *, saturate=None, overflow=None, sr_bits=None, eps=None,
                 form=None, fmt=None) -> Rounding:
    """A call's Rounding: its own arguments, else the context's (its Rounding's and its loose
    options carried over where they fit the call's mode). With ``fmt``, keyword ``saturate`` on
    a fixed-point target and ``overflow`` on a float target are errors."""
    if fmt is not None:
        check_target_options(fmt, saturate, overflow)
    ctx = current_context()
    explicit = {k: v for k, v in (("saturate", saturate), ("overflow", overflow),
                                  ("sr_bits", sr_bits), ("eps", eps), ("form", form))
                if v is not None}
    if isinstance(rounding, Rounding):
        return as_rounding(rounding, **explicit)
    if rounding is None:
        return as_rounding(None, defaults=ctx.rounding, **explicit)
    return _named(rounding, ctx, explicit)
