"""Signal engines and previews: the engines a generator can run on (the catalogue,
``CatalogueService``, lists them with each generator) and a form's live preview. A generator's
parameters are checked by ``schema.validate_params`` (core: the conformance
suite uses it too)."""

from __future__ import annotations

from typing import Any

from synthts_core.errors import BadInputError
from synthts_core.registry import Registries

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
