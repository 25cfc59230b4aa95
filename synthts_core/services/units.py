"""Units of a read: ``real`` (the values as imported, the default of every read path) or
``normalised`` (through the normalisation fitted at import, ``(value - offset) / scale`` per
channel).

Stored values are the imported ones, so a real-units read returns them bit for bit; the
normalisation is derived data recorded beside them. ``to_real`` is the inverse map, for what
is in normalised units: the output of a model that learned a dataset stored normalised by an
earlier synthts, and such a dataset's values when a backend migrates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from synthts_core.domain import Normalisation
from synthts_core.errors import BadInputError

Units = Literal["real", "normalised"]
UNITS: tuple[str, ...] = ("real", "normalised")


def check_units(units: Any, field: str = "units") -> Units:
    if units not in UNITS:
        raise BadInputError(field, f"got {units!r}", allowed=", ".join(UNITS))
    return units  # type: ignore[no-any-return]


def as_normalisation(norm: Normalisation | Mapping[str, Any] | None) -> Normalisation:
    """A recorded normalisation from its struct or its JSON form (model configs hold dicts)."""
    if norm is None:
        return Normalisation()
    if isinstance(norm, Normalisation):
        return norm
    if not isinstance(norm, Mapping):
        return Normalisation()
    method = norm.get("method", "none")
    if method not in ("none", "zscore", "minmax"):
        method = "none"
    return Normalisation(method=method, offset=[float(x) for x in norm.get("offset") or []],
                         scale=[float(x) for x in norm.get("scale") or []])


def affine(norm: Normalisation | Mapping[str, Any] | None, n_channels: int,
           channels: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-channel (offset, scale) shaped (1, c, 1) as float64, or None for the identity."""
    norm = as_normalisation(norm)
    if norm.method == "none" or (not norm.offset and not norm.scale):
        return None
    offset = np.asarray(norm.offset or [0.0], np.float64).reshape(-1)
    scale = np.asarray(norm.scale or [1.0], np.float64).reshape(-1)
    for field, arr in (("offset", offset), ("scale", scale)):
        if arr.size not in (1, n_channels):
            raise BadInputError(f"normalisation.{field}", f"has {arr.size} values",
                                allowed=f"1 or {n_channels} (one per channel)")
        if not np.isfinite(arr).all():
            raise BadInputError(f"normalisation.{field}", "holds a non-finite number",
                                allowed="finite numbers")
    offset = np.broadcast_to(offset, (n_channels,))
    scale = np.broadcast_to(scale, (n_channels,))
    if channels is not None:
        offset, scale = offset[list(channels)], scale[list(channels)]
    return offset.reshape(1, -1, 1).copy(), scale.reshape(1, -1, 1).copy()


def to_real(values: np.ndarray, norm: Normalisation | Mapping[str, Any] | None,
            channels: Sequence[int] | None = None, n_channels: int | None = None) -> np.ndarray:
    """Normalised values (series, channels, length) -> real units, float32.

    ``channels`` are the stored channel indices ``values`` holds (a channel slice); then
    ``n_channels`` is the dataset's channel count."""
    values = np.asarray(values)
    total = n_channels if n_channels is not None else values.shape[1]
    ab = affine(norm, total, channels)
    if ab is None:
        return values.astype(np.float32, copy=False)
    offset, scale = ab
    return (values * scale + offset).astype(np.float32)


def to_normalised(values: np.ndarray, norm: Normalisation | Mapping[str, Any] | None,
                  channels: Sequence[int] | None = None, n_channels: int | None = None
                  ) -> np.ndarray:
    """Real units -> normalised, float32 (``channels``, ``n_channels`` as in ``to_real``)."""
    values = np.asarray(values)
    total = n_channels if n_channels is not None else values.shape[1]
    ab = affine(norm, total, channels)
    if ab is None:
        return values.astype(np.float32, copy=False)
    offset, scale = ab
    return ((values - offset) / scale).astype(np.float32)


def in_units(values: np.ndarray, norm: Normalisation | Mapping[str, Any] | None,
             units: Units, channels: Sequence[int] | None = None,
             n_channels: int | None = None) -> np.ndarray:
    """Stored (real) values as asked for: ``real`` returns them unchanged, ``normalised``
    maps them through ``norm``."""
    if check_units(units) == "real":
        return np.asarray(values, np.float32)
    return to_normalised(values, norm, channels, n_channels)
