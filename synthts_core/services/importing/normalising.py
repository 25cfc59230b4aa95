"""Per-channel normalisation of imported values, checked finite end to end."""

from __future__ import annotations

import numpy as np

from synthts_core.domain import Normalisation
from synthts_core.errors import BadInputError

FLOAT32_MAX = float(np.finfo(np.float32).max)


def normalise(values: np.ndarray, method: str) -> tuple[np.ndarray, Normalisation]:
    """Per-channel normalisation with ``real = stored * scale + offset``. Offset, scale and
    the stored float32 values are checked finite: values too large for the method are refused
    with the field that fixes it, never stored as infinity."""
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        s, c, t = np.argwhere(~np.isfinite(values))[0]
        raise BadInputError("values", f"series {s}, channel {c}, point {t} is missing or "
                            "not finite", allowed="finite numbers")
    if method == "none":
        _check_float32(values)
        return values.astype(np.float32), Normalisation()
    with np.errstate(over="ignore", invalid="ignore"):
        if method == "zscore":
            offset, scale = values.mean(axis=(0, 2)), values.std(axis=(0, 2))
        else:
            offset = values.min(axis=(0, 2))
            scale = values.max(axis=(0, 2)) - offset
    for what, arr in (("offset", offset), ("scale", scale)):
        if not np.isfinite(arr).all():
            ch = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise BadInputError("normalise", f"the {method} {what} of channel {ch} is not "
                                "finite (the values span more than float64 can hold)",
                                allowed="values whose range fits in float64, e.g. rescaled "
                                "before import")
    _check_float32(values)  # every read maps back to real units as float32
    # a constant channel maps to 0; so does one whose spread is below float32's smallest normal
    # number (e.g. values of 1e-45), whose scale would divide by zero once cast to float32
    scale = np.where(scale >= np.finfo(np.float32).tiny, scale, 1.0)
    out = np.empty(values.shape, np.float32)  # no float64 temporaries: uploads are large
    with np.errstate(over="ignore", invalid="ignore"):
        np.subtract(values, offset[None, :, None], out=out, casting="same_kind")
        out /= scale[None, :, None].astype(np.float32)
    if not np.isfinite(out).all():
        raise BadInputError("normalise", f"{method} values overflow float32",
                            allowed="another normalisation, or rescaled values")
    return out, Normalisation(method=method, offset=offset.tolist(),  # type: ignore[arg-type]
                              scale=scale.tolist())


def _check_float32(values: np.ndarray) -> None:
    if max(-float(values.min()), float(values.max())) > FLOAT32_MAX:
        s, c, t = np.argwhere(np.abs(values) > FLOAT32_MAX)[0]
        raise BadInputError("values", f"{values[s, c, t]:g} (series {s}, channel {c}, "
                            f"point {t}) is outside float32's range",
                            allowed=f"|value| <= {FLOAT32_MAX:.3g} (values are read back in "
                            "these units as float32)")
