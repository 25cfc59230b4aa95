"""Per-channel normalisation arithmetic, written once: fitting nan-aware per-channel statistics,
the affine map ``real = normalised * scale + offset`` and its inverse, checking a recorded map,
and the units of a read.

Two maps use it, each recorded as ``{method, offset, scale}``:

- the *import normalisation* (``domain.Normalisation``): fitted once to a dataset as imported,
  recorded beside its values, what ``units="normalised"`` reads answer in; methods ``zscore``
  (mean, standard deviation) and ``minmax`` (minimum, range: to [0, 1]); ``IMPORT_FITS``.
- the *training scaling* an architecture declares (``scaling``): fitted by every trial to the
  series it trains on and recorded in the model's config, so generated values map back;
  methods ``minmax`` (centre, half range: to [-1, 1], for a generator ending in tanh) and
  ``standard`` (mean, standard deviation); ``SCALINGS``.

The two vocabularies are as recorded in stored datasets and model versions, so they stay as
they are (``minmax`` means a different range in each). Statistics are float64, of the observed
points only (a NaN is a missing point); a channel's scale is never 0.

Units of a read: ``real`` (the values as imported, the default of every read path) or
``normalised`` (through the import normalisation). Stored values are the imported ones, so a
real-units read returns them bit for bit; the normalisation is derived data recorded beside
them. ``to_real`` is the inverse map, for what is in normalised units: the output of a model
that learned a dataset stored normalised by an earlier synthts, and such a dataset's values
when a backend migrates them.

Leaf module (NumPy and the core's domain, errors and missing points only), so services, the
loaded model and plugins alike may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from synthts_core.domain import Normalisation
from synthts_core.errors import BadInputError
from synthts_core.missing import has_missing

CHANNEL_AXES = (0, 2)  # (series, channels, length): statistics pool series and points
Units = Literal["real", "normalised"]
UNITS: tuple[str, ...] = ("real", "normalised")


# ---------------------------------------------------------------------------------- fitting

def channel_range(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(minimum, maximum) per channel as float64, of the observed points."""
    gaps = has_missing(values)
    low = (np.nanmin if gaps else np.min)(values, axis=CHANNEL_AXES).astype(np.float64)
    high = (np.nanmax if gaps else np.max)(values, axis=CHANNEL_AXES).astype(np.float64)
    return low, high


def channel_moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard deviation) per channel, summed in float64, of the observed points.
    With missing points NumPy's ``nanstd`` subtracts the mean in the array's own dtype: give
    float64 values where float32 ones near float32's largest numbers would overflow there."""
    gaps = has_missing(values)
    mean = (np.nanmean if gaps else np.mean)(values, axis=CHANNEL_AXES, dtype=np.float64)
    std = (np.nanstd if gaps else np.std)(values, axis=CHANNEL_AXES, dtype=np.float64)
    return mean, std


def low_range(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offset, scale) that map each channel to [0, 1]: its minimum and its range."""
    low, high = channel_range(values)
    return low, high - low


def centred_range(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offset, scale) that map each channel to [-1, 1]: its centre and its half range."""
    low, high = channel_range(values)
    return (high + low) / 2.0, (high - low) / 2.0


Fit = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
IMPORT_FITS: dict[str, Fit] = {"zscore": channel_moments, "minmax": low_range}
"""The import normalisation's methods (``Normalisation.method``, besides ``none``)."""
SCALINGS: dict[str, Fit] = {"minmax": centred_range, "standard": channel_moments}
"""The training scalings an architecture may declare (``scaling``)."""


def usable_scale(scale: np.ndarray, smallest: float = 0.0) -> np.ndarray:
    """``scale`` with 1 for a channel whose spread is 0 or below ``smallest``: a constant
    channel maps to about 0, never to a division by zero (any scale would do)."""
    return np.where((scale <= 0) | (scale < smallest), 1.0, scale)


def fit_scaling(values: np.ndarray, scaling: str) -> dict[str, Any]:
    """The training scaling ``scaling`` (a key of ``SCALINGS``) fitted to ``values``, as a
    model config records it."""
    offset, scale = SCALINGS[scaling](values)
    return {"method": scaling, "offset": offset.tolist(), "scale": usable_scale(scale).tolist()}


# ------------------------------------------------------------------------- applying

def affine(offset: Sequence[float] | float | None, scale: Sequence[float] | float | None,
           n_channels: int, *, channels: Sequence[int] | None = None, dtype: Any = np.float64,
           field: str = "normalisation") -> tuple[np.ndarray, np.ndarray]:
    """A recorded map's (offset, scale) as ``dtype`` arrays shaped (1, c, 1), for the stored
    channels ``channels`` (default: all ``n_channels``). None, an empty list or a bare 0 is
    the identity's (0, 1); one number, bare or in a list, applies to every channel. A list of
    another length, or a non-finite number, is refused naming ``field.offset`` or
    ``field.scale``."""
    out = []
    for name, given, default in (("offset", offset, 0.0), ("scale", scale, 1.0)):
        unset = given is None or np.size(given) == 0 or (np.ndim(given) == 0 and not given)
        arr = np.asarray([default] if unset else given, dtype).reshape(-1)
        if arr.size not in (1, n_channels):
            raise BadInputError(f"{field}.{name}", f"has {arr.size} values",
                                allowed=f"1 or {n_channels} (one per channel)")
        if not np.isfinite(arr).all():
            raise BadInputError(f"{field}.{name}", "holds a non-finite number",
                                allowed="finite numbers")
        arr = np.broadcast_to(arr, (n_channels,))
        if channels is not None:
            arr = arr[list(channels)]
        out.append(arr.reshape(1, -1, 1).copy())
    return out[0], out[1]


def normalise(values: np.ndarray, offset_scale: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Real units -> normalised, ``(value - offset) / scale``, as float32."""
    offset, scale = offset_scale
    return ((values - offset) / scale).astype(np.float32, copy=False)


def denormalise(values: np.ndarray, offset_scale: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Normalised -> real units, ``value * scale + offset``, as float32."""
    offset, scale = offset_scale
    return (values * scale + offset).astype(np.float32, copy=False)


def scaling_affine(record: Mapping[str, Any] | None, n_channels: int,
                   field: str = "normalisation") -> tuple[np.ndarray, np.ndarray]:
    """A training scaling's (offset, scale) as float32 (1, c, 1): what a trial trains in and
    generated values map back through (``none``, or no record: the identity)."""
    record = record if isinstance(record, Mapping) else {}
    if record.get("method", "none") == "none":
        return (np.zeros((1, n_channels, 1), np.float32),
                np.ones((1, n_channels, 1), np.float32))
    return affine(record.get("offset"), record.get("scale"), n_channels, dtype=np.float32,
                  field=field)


def apply_scaling(values: np.ndarray, record: Mapping[str, Any], *,
                  inverse: bool = False) -> np.ndarray:
    """``values`` (series, channels, length) into a training scaling's units, or back to real
    units (``inverse``), as float32."""
    ab = scaling_affine(record, int(np.shape(values)[1]))
    return denormalise(values, ab) if inverse else normalise(values, ab)


def is_identity(norm: Normalisation) -> bool:
    """An import normalisation that maps nothing (``none``, or recorded without numbers)."""
    return norm.method == "none" or (not norm.offset and not norm.scale)


# ---------------------------------------------------------------------- units of a read

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
    if method not in ("none", *IMPORT_FITS):
        method = "none"
    return Normalisation(method=method, offset=[float(x) for x in norm.get("offset") or []],
                         scale=[float(x) for x in norm.get("scale") or []])


def _import_affine(norm: Normalisation | Mapping[str, Any] | None, n_channels: int,
                   channels: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray] | None:
    """An import normalisation's (offset, scale) as float64 (1, c, 1), None for the identity."""
    norm = as_normalisation(norm)
    if is_identity(norm):
        return None
    return affine(norm.offset, norm.scale, n_channels, channels=channels)


def to_real(values: np.ndarray, norm: Normalisation | Mapping[str, Any] | None,
            channels: Sequence[int] | None = None, n_channels: int | None = None) -> np.ndarray:
    """Normalised values (series, channels, length) -> real units, float32.

    ``channels`` are the stored channel indices ``values`` holds (a channel slice); then
    ``n_channels`` is the dataset's channel count."""
    values = np.asarray(values)
    total = n_channels if n_channels is not None else values.shape[1]
    ab = _import_affine(norm, total, channels)
    return values.astype(np.float32, copy=False) if ab is None else denormalise(values, ab)


def to_normalised(values: np.ndarray, norm: Normalisation | Mapping[str, Any] | None,
                  channels: Sequence[int] | None = None, n_channels: int | None = None
                  ) -> np.ndarray:
    """Real units -> normalised, float32 (``channels``, ``n_channels`` as in ``to_real``)."""
    values = np.asarray(values)
    total = n_channels if n_channels is not None else values.shape[1]
    ab = _import_affine(norm, total, channels)
    return values.astype(np.float32, copy=False) if ab is None else normalise(values, ab)


def in_units(values: np.ndarray, norm: Normalisation | Mapping[str, Any] | None,
             units: Units, channels: Sequence[int] | None = None,
             n_channels: int | None = None) -> np.ndarray:
    """Stored (real) values as asked for: ``real`` returns them unchanged, ``normalised``
    maps them through ``norm``."""
    if check_units(units) == "real":
        return np.asarray(values, np.float32)
    return to_normalised(values, norm, channels, n_channels)


# ------------------------------------------------------------------------ checking

def check_recorded(norm: Normalisation) -> None:
    """A dataset's recorded normalisation maps stored values to normalised units, so its
    numbers must be finite (JSON has no infinity: one would be written as ``null`` and the
    record could not be read back) and its scales non-zero; refused naming the entry."""
    for field in ("offset", "scale"):
        numbers = getattr(norm, field)
        for i, x in enumerate(numbers):
            if isinstance(x, bool) or not isinstance(x, int | float) or not np.isfinite(x):
                raise BadInputError(f"normalisation.{field}[{i}]", f"got {x!r}",
                                    allowed="finite numbers (the data's range overflows "
                                    "float64; rescale it before import)")
    for i, x in enumerate(norm.scale):
        if x == 0:
            raise BadInputError(f"normalisation.scale[{i}]", "is 0", allowed="a non-zero scale")
