"""The volume limit every generated or text-encoded answer obeys (SYNTHTS_MAX_GENERATE_VALUES),
checked before any work, in one place so each refusal reads the same."""

from __future__ import annotations

from synthts_core.errors import LimitExceededError


def check_volume(n_series: int, n_channels: int, length: int, max_values: int,
                 what: str = "requested series x channels x length") -> None:
    """Refuse to generate more than ``max_values`` values (SYNTHTS_MAX_GENERATE_VALUES)."""
    total = int(n_series) * int(n_channels) * int(length)
    if total > max_values:
        raise LimitExceededError(what, total, max_values, "SYNTHTS_MAX_GENERATE_VALUES")
