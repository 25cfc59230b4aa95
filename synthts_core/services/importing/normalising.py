"""Imported values as stored (float32, exactly as given) and the per-channel normalisation
fitted to them, checked finite end to end. A NaN is a missing point: stored as it is, left out
of the normalisation's statistics.

The normalisation is derived data: it is recorded beside the values so that reads can answer
in normalised units on request, and it never replaces them. Storing the normalised form
instead made every read map back, and the values read differed from the input in their last
bits."""

from __future__ import annotations

import warnings

import numpy as np

from synthts_core.domain import Normalisation
from synthts_core.errors import BadInputError
from synthts_core.normalisation import CHANNEL_AXES, IMPORT_FITS, usable_scale

FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_OVERFLOW = float.fromhex("0x1.ffffffp+127")
"""Halfway between float32's largest number and 2**128: anything this large or larger rounds
to infinity as float32; anything smaller rounds to a finite float32 (at most FLOAT32_MAX),
which is how float32's largest numbers come back from text with 9 significant digits."""


def imported_values(values: np.ndarray, unit: str = "series") -> np.ndarray:
    """The values to store: the input as float32, a missing point (NaN) kept as float32's
    quiet NaN (whatever sign or payload the file's NaN had: they carry no meaning and no text
    format keeps them, so every format of the same data stores the same bits). Refused, with
    the point at fault: an infinity, a value too large for float32 (never stored as
    infinity), a series with no observed point at all (nothing to learn from; ``unit``
    names what a series is there, e.g. ``window`` when the import cut windows), and a channel
    with no observed point in any series."""
    if isinstance(values, np.ndarray) and values.dtype == np.float32:
        wide = values
    else:
        wide = np.asarray(values, dtype=np.float64)
    if np.isinf(wide).any():
        s, c, t = np.argwhere(np.isinf(wide))[0]
        raise BadInputError("values", f"series {s}, channel {c}, point {t} is infinite",
                            allowed="finite numbers, or NaN (empty, null, ?) for a missing "
                            "point")
    missing = np.isnan(wide)
    if wide.ndim == 3 and missing.any():
        empty = missing.all(axis=(1, 2))
        if empty.any():
            raise BadInputError("values", f"{unit} {int(np.argmax(empty))} has no observed "
                                "point", allowed=f"at least one number in every {unit} (drop "
                                "what is missing entirely)")
        unseen = missing.all(axis=(0, 2))
        if unseen.any():  # nothing to learn of it, nor to normalise it by
            raise BadInputError("values", f"channel {int(np.argmax(unseen))} has no observed "
                                "point in any series", allowed="at least one number in every "
                                "channel (drop the channel)")
    if wide.dtype != np.float32:
        big = np.abs(wide) >= FLOAT32_OVERFLOW  # False at NaN
        if big.any():
            s, c, t = np.argwhere(big)[0]
            raise BadInputError("values", f"{wide[s, c, t]:g} (series {s}, channel {c}, "
                                f"point {t}) is outside float32's range",
                                allowed=f"|value| <= {FLOAT32_MAX:.9g} (values are stored and "
                                "read back as float32)")
    if not missing.any():
        return np.ascontiguousarray(wide, dtype=np.float32)
    out = wide.astype(np.float32)  # a copy: the caller's array is left as it was
    out[missing] = np.float32(np.nan)
    return out


def fit_normalisation(values: np.ndarray, method: str) -> Normalisation:
    """Per-channel ``method`` fitted to the stored float32 ``values`` (in float64), with
    ``real = normalised * scale + offset``: zscore (mean, standard deviation) or minmax
    (minimum, range), of the observed values only (NaN is a missing point;
    ``synthts_core.normalisation.IMPORT_FITS``). A constant channel, or one whose spread is
    below float32's smallest normal number, gets scale 1 (it normalises to about 0, never to a
    division by zero); a channel with no observed value gets offset 0 and scale 1."""
    if method == "none":
        return Normalisation()
    stats = np.asarray(values, dtype=np.float32)
    if not np.isnan(stats).any():
        offset, scale = IMPORT_FITS[method](stats)
    else:  # observed values only; a channel missing everywhere gets the identity
        empty = np.isnan(stats).all(axis=CHANNEL_AXES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice"
            # in float64: NumPy's nanstd subtracts the mean in the array's own dtype, which
            # overflows near float32's largest numbers
            offset, scale = IMPORT_FITS[method](stats.astype(np.float64))
        offset = np.where(empty, 0.0, offset)
        scale = np.where(empty, 1.0, scale)
    for what, arr in (("offset", offset), ("scale", scale)):
        if not np.isfinite(arr).all():  # float32 values keep float64 sums finite; defensive
            ch = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise BadInputError("normalise", f"the {method} {what} of channel {ch} is not "
                                "finite", allowed="another normalisation, or rescaled values")
    scale = usable_scale(scale, smallest=float(np.finfo(np.float32).tiny))
    return Normalisation(method=method, offset=offset.tolist(),  # type: ignore[arg-type]
                         scale=scale.tolist())
