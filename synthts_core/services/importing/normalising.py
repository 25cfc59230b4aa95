"""Imported values as stored (float32, exactly as given) and the per-channel normalisation
fitted to them, checked finite end to end.

The normalisation is derived data: it is recorded beside the values so that reads can answer
in normalised units on request, and it never replaces them. Storing the normalised form
instead made every read map back, and the values read differed from the input in their last
bits."""

from __future__ import annotations

import numpy as np

from synthts_core.domain import Normalisation
from synthts_core.errors import BadInputError

FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_OVERFLOW = float.fromhex("0x1.ffffffp+127")
"""Halfway between float32's largest number and 2**128: anything this large or larger rounds
to infinity as float32; anything smaller rounds to a finite float32 (at most FLOAT32_MAX),
which is how float32's largest numbers come back from text with 9 significant digits."""


def imported_values(values: np.ndarray) -> np.ndarray:
    """The values to store: the input as float32, refused with the point at fault when one is
    missing, not finite or too large for float32 (never stored as infinity)."""
    if isinstance(values, np.ndarray) and values.dtype == np.float32:
        wide = values
    else:
        wide = np.asarray(values, dtype=np.float64)
    if not np.isfinite(wide).all():
        s, c, t = np.argwhere(~np.isfinite(wide))[0]
        raise BadInputError("values", f"series {s}, channel {c}, point {t} is missing or "
                            "not finite", allowed="finite numbers")
    if wide.dtype == np.float32:
        return np.ascontiguousarray(wide)
    if wide.size and max(-float(wide.min()), float(wide.max())) >= FLOAT32_OVERFLOW:
        s, c, t = np.argwhere(np.abs(wide) >= FLOAT32_OVERFLOW)[0]
        raise BadInputError("values", f"{wide[s, c, t]:g} (series {s}, channel {c}, "
                            f"point {t}) is outside float32's range",
                            allowed=f"|value| <= {FLOAT32_MAX:.9g} (values are stored and read "
                            "back as float32)")
    return wide.astype(np.float32)


def fit_normalisation(values: np.ndarray, method: str) -> Normalisation:
    """Per-channel ``method`` fitted to the stored float32 ``values`` (in float64), with
    ``real = normalised * scale + offset``: zscore (mean, standard deviation) or minmax
    (minimum, range). A constant channel, or one whose spread is below float32's smallest
    normal number, gets scale 1 (it normalises to about 0, never to a division by zero)."""
    if method == "none":
        return Normalisation()
    stats = np.asarray(values, dtype=np.float32)
    if method == "zscore":
        offset = stats.mean(axis=(0, 2), dtype=np.float64)
        scale = stats.std(axis=(0, 2), dtype=np.float64)
    else:
        offset = stats.min(axis=(0, 2)).astype(np.float64)
        scale = stats.max(axis=(0, 2)).astype(np.float64) - offset
    for what, arr in (("offset", offset), ("scale", scale)):
        if not np.isfinite(arr).all():  # float32 values keep float64 sums finite; defensive
            ch = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise BadInputError("normalise", f"the {method} {what} of channel {ch} is not "
                                "finite", allowed="another normalisation, or rescaled values")
    scale = np.where(scale >= np.finfo(np.float32).tiny, scale, 1.0)
    return Normalisation(method=method, offset=offset.tolist(),  # type: ignore[arg-type]
                         scale=scale.tolist())
