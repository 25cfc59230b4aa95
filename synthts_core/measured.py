"""A metric value that says how sure it is.

A metric's ``compute`` may return a plain float, ``(mean, std)``, or a ``Measured``: a float
(so every caller that treats results as numbers keeps working) that also carries a confidence
interval, a spread, extra named figures, and, when the metric's own model did not fit, the reason.
A metric that cannot vouch for its number must never pass it off as a perfect score: it returns
the number it measured *and* ``inconclusive``, and every front end shows the reason instead of a
verdict.
"""

from __future__ import annotations

import math
from typing import Any


class Measured(float):
    """``float(value)`` plus ``std``, ``ci`` (low, high), ``inconclusive`` and ``extra``."""

    std: float | None
    ci: tuple[float, float] | None
    inconclusive: str | None
    extra: dict[str, Any]

    def __new__(cls, value: float, *, std: float | None = None,
                ci: tuple[float, float] | None = None, inconclusive: str | None = None,
                extra: dict[str, Any] | None = None) -> Measured:
        obj = super().__new__(cls, value)
        obj.std = None if std is None else float(std)
        obj.ci = None if ci is None else (float(ci[0]), float(ci[1]))
        obj.inconclusive = inconclusive
        obj.extra = dict(extra or {})
        return obj

    def __iter__(self):
        """Unpacks as ``(value, std)``, like the ``(mean, std)`` tuples repeated estimates
        returned before, so ``mean, std = metric.compute(...)`` keeps working."""
        return iter((float(self), self.std))

    @property
    def conclusive(self) -> bool:
        return self.inconclusive is None and math.isfinite(self)

    def as_details(self) -> dict[str, Any]:
        """The extras as JSON-ready values (what a report stores beside the number)."""
        out: dict[str, Any] = dict(self.extra)
        if self.ci is not None:
            out["ci"] = list(self.ci)
        if self.inconclusive is not None:
            out["inconclusive"] = self.inconclusive
        return out

    def __repr__(self) -> str:
        tail = f", inconclusive={self.inconclusive!r}" if self.inconclusive else ""
        ci = f", ci=({self.ci[0]:.4g}, {self.ci[1]:.4g})" if self.ci else ""
        return f"Measured({float(self):.6g}{ci}{tail})"


def split_result(result: Any) -> tuple[float, float | None, dict[str, Any]]:
    """Any metric result -> (value, std or None, details)."""
    if isinstance(result, Measured):
        return float(result), result.std, result.as_details()
    if isinstance(result, tuple):
        return float(result[0]), float(result[1]), {}
    return float(result), None, {}


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion ``correct / total``."""
    if total <= 0:
        return 0.0, 1.0
    p = correct / total
    denom = 1.0 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
