"""The job form: the bounds and defaults of a training job's numeric fields, declared once.

Everything that takes a job's numbers derives from ``JOB_FORM``: the API's ``JobCreate``
(``meta``: its ``ge``/``le``), the CLI's options (``synthts train``, ``synthts demo``), the
training service's checks (``check``) and the TUI's train form (``form_json``). A leaf of the
core, light on purpose: the TUI and the API schemas import it without the training stack, and
the TUI (an HTTP client) never imports a service.
"""

from __future__ import annotations

from typing import Any

import msgspec

from synthts_core.errors import BadInputError
from synthts_core.schema import Param

MAX_TRIALS = 1000

JOB_FORM: tuple[Param, ...] = (
    Param("num_trials", "int", 4, "configurations to try", low=1, high=MAX_TRIALS),
    # None: sized for the data when the job is submitted (``training.default_epochs``)
    Param("epochs", "int", None, "epochs per trial (empty: sized for the data)", low=1,
          high=100_000, nullable=True),
    # more trials at once than a job can have would never run
    Param("max_concurrent", "int", None, "trials running at once", low=1, high=MAX_TRIALS,
          nullable=True),
    Param("time_limit_s", "int", None, "seconds one run (or resume) of the job may take",
          low=1, high=30 * 86400, nullable=True),
    Param("seed", "int", 0, "same seed, same trials", low=0, high=2**32 - 1),
)
"""The numeric fields of a job spec, each an integer in ``[low, high]``."""

FIELDS: dict[str, Param] = {p.name: p for p in JOB_FORM}


def bounds(name: str) -> tuple[int, int]:
    """``(low, high)`` of one field, inclusive."""
    p = FIELDS[name]
    return int(p.low), int(p.high)  # type: ignore[arg-type]


def check(name: str, value: Any, field: str | None = None) -> None:
    """``BadInputError`` naming the field (``field``, else ``name``) and its range unless
    ``value`` is an integer in ``name``'s (``None`` passes for an optional field)."""
    if value is None and FIELDS[name].nullable:
        return
    low, high = bounds(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInputError(field or name, f"got {value!r}",
                            allowed=f"an integer in [{low}, {high}]")


def meta(name: str) -> msgspec.Meta:
    """The field's bounds as the API struct's constraint."""
    low, high = bounds(name)
    return msgspec.Meta(ge=low, le=high)


def form_json(*names: str) -> list[dict[str, Any]]:
    """Fields as the TUI's ``ParamForm`` takes them (``Param.to_json``, as the API serves)."""
    return [FIELDS[n].to_json() for n in names]
