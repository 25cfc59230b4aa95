"""Signal catalogue service: parameter validation and the catalogue front ends show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synthts_core.errors import BadInputError
from synthts_core.interfaces import SignalGenerator
from synthts_core.registry import Registries


def prefixed(exc: BadInputError, prefix: str) -> BadInputError:
    """The same error with its field placed under ``prefix`` (``classes[2].signal.params.``),
    so a generator's own cross-field check still names the full path."""
    if not prefix or exc.field.startswith(prefix):
        return exc
    message = exc.message.removeprefix(f"{exc.field}: ")
    if exc.allowed:
        message = message.removesuffix(f" (allowed: {exc.allowed})")
    return BadInputError(prefix + exc.field, message, allowed=exc.allowed, value=exc.value)


def validate_params(generator: SignalGenerator, params: Mapping[str, Any] | None,
                    prefix: str = "") -> dict[str, Any]:
    """Schema check (bounds, types, unknown names) then the generator's own cross-field check."""
    if params is not None and not isinstance(params, Mapping):
        raise BadInputError(prefix.rstrip(".") or "params", f"got {params!r}",
                            allowed="an object of parameter values")
    checked = generator.schema.validate(params, prefix)
    check = getattr(generator, "check", None)
    if check is not None:
        try:
            check(checked)
        except BadInputError as exc:
            raise prefixed(exc, prefix) from None
    return checked


VECTORISED = "vectorised"  # the core's engine: every generator's own batch ``generate``


def engines_of(gen: Any) -> list[str]:
    """The engines that can run ``gen``: the core's own, then the alternatives a plugin
    attached to it (``gen.engines``, name -> engine), sorted."""
    return [VECTORISED, *sorted(getattr(gen, "engines", None) or {})]


def available_engines(registries: Registries) -> list[str]:
    """Every engine some registered generator can run on: the core's own first, then the
    plugins' alternatives, sorted (what a spec's ``engine`` may name)."""
    extra = {name for gen in registries.signals for name in engines_of(gen)[1:]}
    return [VECTORISED, *sorted(extra)]


def catalogue(registries: Registries) -> list[dict[str, Any]]:
    """Every registered signal and noise generator as plain data (name, kind, description,
    parameter schema, which plugin added it and which engines can run it), for the API's
    catalogue endpoint and the TUI's forms."""
    out = []
    for entry in registries.signals.entries():
        gen = entry.item
        engines = engines_of(gen)
        out.append({
            "name": entry.name,
            "kind": gen.kind,
            "description": getattr(gen, "description", ""),
            "random": bool(getattr(gen, "random", True)),
            "plugin": entry.plugin,
            "engines": engines,
            "schema": gen.schema.to_json(),
        })
    return out


def preview(registries: Registries, signal: Any, noise: Any | None, *, n: int, length: int,
            sampling: Any, seed: int, max_values: int | None = None) -> tuple[Any, Any]:
    """A few series for a form's live plot, under the rules a stored dataset obeys: the same
    parameter checks, the same SYNTHTS_MAX_GENERATE_VALUES volume limit, and values that must
    be finite (parameters that make a generator diverge are a 422 naming the parameters, as
    when the dataset is created, never NaN shown as a line gap)."""
    import numpy as np

    from synthts_core.errors import LimitExceededError
    from synthts_core.services import generation

    volume = int(n) * int(length)
    if max_values is not None and volume > max_values:
        raise LimitExceededError("preview values (series x length)", volume, max_values,
                                 "SYNTHTS_MAX_GENERATE_VALUES")
    times, values = generation.preview(registries, signal, noise, n=n, length=length,
                                       sampling=sampling, seed=seed)
    with np.errstate(over="ignore"):  # a dataset holds float32: beyond its range is infinite
        stored = np.asarray(values, dtype=np.float32)
    if not np.isfinite(stored).all():
        parts = [f"signal {signal.generator!r}"]
        if noise is not None:
            parts.append(f"noise {noise.generator!r}")
        raise BadInputError("signal.params", f"these parameters make {' + '.join(parts)} "
                            "produce NaN or values beyond float32's range, which a dataset cannot "
                            "hold",
                            allowed="parameters for which the series stay finite (e.g. a "
                            "smaller gain or delay)")
    return times, values
