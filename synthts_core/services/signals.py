"""Signal catalogue service: parameter validation and previews."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synthts_core.errors import BadInputError
from synthts_core.interfaces import SignalGenerator


def validate_params(generator: SignalGenerator, params: Mapping[str, Any] | None,
                    prefix: str = "") -> dict[str, Any]:
    """Schema check (bounds, types, unknown names) then the generator's own cross-field check."""
    if params is not None and not isinstance(params, Mapping):
        raise BadInputError(prefix.rstrip(".") or "params", f"got {params!r}",
                            allowed="an object of parameter values")
    checked = generator.schema.validate(params, prefix)
    check = getattr(generator, "check", None)
    if check is not None:
        check(checked)
    return checked
