"""Missing points: a NaN in a dataset's values is a point that was not observed.

Stored values keep them as NaN (never filled in). Three things need more than that, and each is
here once:

- **scores** (``comparable``): metrics take complete arrays. Real series with missing points and
  complete synthetic ones would differ in their gaps alone, so each synthetic series gets the
  missing points of a real series of its class drawn at random, and both sides are then filled
  the same way (``fill``: linear interpolation along time). A detector then sees the same gaps,
  filled alike, on both sides: what is left to tell them apart is the series themselves.
- **generation with** ``missing="learned"`` (``fit_pattern``, ``draw_missing``): the rate at
  which each point is missing, per class, channel and time step, learnt from the training
  series and drawn independently per point. Runs of missing points (a sensor down for an hour)
  come out as scattered points at the same rates: the pattern is a marginal, said so in
  ``describe_pattern``.
- **refusals**: ``require_support`` names the architectures that cannot learn from gaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synthts_core.errors import BadInputError

MISSING_MODES: tuple[str, ...] = ("none", "learned")
"""What generation gives: complete series (``none``, the default) or the learned pattern of
missing points (``learned``: NaN where the pattern drew a gap)."""


def has_missing(values: np.ndarray | None) -> bool:
    return values is not None and bool(np.isnan(np.asarray(values)).any())


def fill(values: np.ndarray) -> np.ndarray:
    """A complete copy of ``values`` (series, channels, length): each missing point linearly
    interpolated between its channel's observed neighbours in its series (by position, also
    for irregular sampling: scores compare shapes point by point), the nearest observed
    value before the first or after the last one. A channel with no observed point in a series
    takes that channel's mean over the other series (0 if it is never observed)."""
    values = np.asarray(values, dtype=np.float32)
    gaps = np.isnan(values)
    if not gaps.any():
        return values
    out = values.copy()
    grid = np.arange(values.shape[2])
    with np.errstate(invalid="ignore"):
        means = np.nanmean(values, axis=(0, 2))
    means = np.where(np.isfinite(means), means, 0.0)
    for s, ch in zip(*np.nonzero(gaps.any(axis=2)), strict=True):
        seen = ~gaps[s, ch]
        if not seen.any():
            out[s, ch] = means[ch]
            continue
        out[s, ch] = np.interp(grid, grid[seen], values[s, ch, seen])
    return out


def _donors(labels: np.ndarray, wanted: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each synthetic series (its class in ``wanted``), the index of a real series of that
    class (of any class when the real set has none of it)."""
    out = np.empty(len(wanted), dtype=np.int64)
    for cls in np.unique(wanted):
        where = np.flatnonzero(wanted == cls)
        pool = np.flatnonzero(labels == cls)
        if len(pool) == 0:
            pool = np.arange(len(labels))
        out[where] = rng.choice(pool, size=len(where))
    return out


def _refuse_gaps(synthetic: np.ndarray) -> None:
    """A generator's output is complete: a NaN there is a broken model, never filled in (a
    filled one would score as well as a good one)."""
    bad = np.isnan(synthetic)
    if bad.any():
        s, c, t = np.argwhere(bad)[0]
        raise BadInputError("synthetic_values", f"series {s}, channel {c}, point {t} is NaN",
                            allowed="complete generated series (a model's output has no "
                                    "missing points)")


def _gaps_of(values: np.ndarray, donors_from: np.ndarray, donor_labels: np.ndarray | None,
             labels: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """``values`` also missing the points a series of ``donors_from`` misses, one drawn per
    series, of its class when both sides have labels."""
    if donor_labels is not None and labels is not None:
        donors = _donors(np.asarray(donor_labels), np.asarray(labels), rng)
    else:
        donors = rng.integers(0, len(donors_from), size=len(values))
    return np.where(np.isnan(donors_from)[donors], np.float32(np.nan), values)


def alike(reals: Sequence[tuple[np.ndarray, np.ndarray | None]], synthetic: np.ndarray,
          synthetic_labels: np.ndarray | None, rng: np.random.Generator
          ) -> tuple[list[np.ndarray], np.ndarray]:
    """Real sets (values, labels) and a synthetic set made comparable for scores when a real
    one has missing points (all returned unchanged otherwise): each series of each set also
    loses the points that a series of every other set misses (one drawn per set, of its class
    where labels are known), then all are filled by ``fill``. Their gaps are then alike in
    distribution (the union of one draw from each real set's), so neither a detector nor a
    membership test can tell the sets apart by their gaps: not the training series from the
    held-out ones when only one of them has gaps, nor real from synthetic."""
    synthetic = np.asarray(synthetic, dtype=np.float32)
    _refuse_gaps(synthetic)
    reals = [(np.asarray(r, dtype=np.float32), lab) for r, lab in reals]
    if not any(has_missing(r) for r, _ in reals):
        return [r for r, _ in reals], synthetic
    out = []
    for i, (values, labels) in enumerate(reals):
        for j, (other, other_labels) in enumerate(reals):
            if j != i and has_missing(other):
                values = _gaps_of(values, other, other_labels, labels, rng)
        out.append(fill(values))
    for other, other_labels in reals:
        if has_missing(other):
            synthetic = _gaps_of(synthetic, other, other_labels, synthetic_labels, rng)
    return out, fill(synthetic)


def comparable(real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator,
               real_labels: np.ndarray | None = None,
               synthetic_labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``alike`` for one real set: each synthetic series loses the points a real series of its
    class (any class when either side has no labels) misses, then both are filled."""
    (filled,), synthetic = alike([(real, real_labels)], synthetic, synthetic_labels, rng)
    return filled, synthetic


def fit_pattern(values: np.ndarray, labels: np.ndarray | None, n_classes: int,
                lengths: np.ndarray | None = None) -> dict[str, Any] | None:
    """The rate at which each point is missing, per class (one row when unconditional),
    channel and time step (``encode_rates``' compact form): what ``draw_missing`` draws from,
    stored with a model. Series of unequal ``lengths``: a point past a series' end is padding, not a
    missing point, so each rate counts the series long enough to have that point (0 where
    none is). None when no point is missing."""
    values = np.asarray(values)
    gaps = np.isnan(values)
    present = np.ones(values.shape, dtype=bool)
    if lengths is not None:
        from synthts_core.domain import within_lengths

        present = np.broadcast_to(within_lengths(lengths, values.shape[2])[:, None, :],
                                  values.shape)
        gaps = gaps & present
    if not gaps.any():
        return None

    def rate(rows: np.ndarray) -> np.ndarray:
        seen = present[rows].sum(axis=0)
        return np.divide(gaps[rows].sum(axis=0), seen, out=np.zeros(seen.shape), where=seen > 0)

    every = np.ones(len(values), dtype=bool)
    if labels is None or n_classes <= 0:
        rates = rate(every)[None]
    else:
        rates = np.stack([rate(labels == k) if (labels == k).any() else rate(every)
                          for k in range(n_classes)])
    return {"rate": round(float(gaps.sum() / present.sum()), 6), **encode_rates(rates)}


MAX_BINS = 128  # time steps a pattern keeps at most per class and channel (``encode_rates``)
MAX_ENCODED = 40_000  # characters of an encoded pattern at most (it lives in the model config)


def encode_rates(rates: np.ndarray) -> dict[str, Any]:
    """Rates (classes, channels, length) in a model config's few kilobytes: averaged over at
    most ``MAX_BINS`` equal stretches of the series (fewer until the text fits
    ``MAX_ENCODED``), quantised to 1/255, zlib-compressed, base64 text. A config is an MLflow
    tag (100 kB at most); a pattern as a list of floats reached 430 kB for 5 classes of 12
    channels x 1000 points."""
    import base64
    import zlib

    k, c, length = rates.shape
    bins = min(length, MAX_BINS)
    while True:
        edges = np.linspace(0, length, bins + 1).round().astype(int)
        binned = np.add.reduceat(rates, edges[:-1], axis=2) / np.diff(edges)
        packed = base64.b64encode(zlib.compress(
            np.round(binned * 255).astype(np.uint8).tobytes(), 9)).decode()
        if len(packed) <= MAX_ENCODED or bins == 1:
            return {"shape": [k, c, length], "bins": bins, "rates_u8": packed}
        bins = max(1, bins // 2)


def pattern_rates(pattern: Mapping[str, Any]) -> np.ndarray:
    """The rates (classes, channels, length) a pattern holds: ``encode_rates``' form, or plain
    nested lists under ``by_class``."""
    if "by_class" in pattern:
        return np.asarray(pattern["by_class"], dtype=np.float64)
    import base64
    import zlib

    k, c, length = (int(x) for x in pattern["shape"])
    bins = int(pattern["bins"])
    binned = np.frombuffer(zlib.decompress(base64.b64decode(pattern["rates_u8"])),
                           dtype=np.uint8).reshape(k, c, bins) / 255.0
    edges = np.linspace(0, length, bins + 1).round().astype(int)
    return np.repeat(binned, np.diff(edges), axis=2)


def describe_pattern(pattern: Mapping[str, Any] | None) -> str:
    if not pattern:
        return "no missing points"
    if pattern.get("withheld"):
        return f"withheld: {pattern['withheld']}"
    return (f"{100 * float(pattern.get('rate', 0.0)):.1f} % of points missing, drawn "
            "independently per point at the rate learnt for each class, channel and time step")


def draw_missing(values: np.ndarray, pattern: Mapping[str, Any] | None,
                 labels: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """``values`` (n, channels, length) with NaN drawn from ``pattern`` (``fit_pattern``) at
    the points they hold (a NaN already there, past a shorter series' end, stays); a series
    the draw would leave with no observed point keeps one (the one the draw was least sure to
    remove), as no stored series is wholly missing."""
    values = np.array(values, dtype=np.float32, copy=True)
    if not pattern:
        return values
    rates = pattern_rates(pattern)[:, :, :values.shape[2]]
    if rates.shape[1:] != values.shape[1:]:
        raise BadInputError("missing", f"the series have (channels, length) "
                            f"{values.shape[1:]}", allowed=f"the model's {rates.shape[1:]}")
    rows = np.zeros(len(values), dtype=np.int64) if labels is None or len(rates) == 1 else \
        np.asarray(labels, dtype=np.int64)
    held = ~np.isnan(values)
    u = rng.random(values.shape, dtype=np.float32)
    margin = np.where(held, u - rates[rows].astype(np.float32), -np.inf)  # > 0: the point stays
    gaps = held & (margin < 0)
    for s in np.flatnonzero(~(held & ~gaps).reshape(len(values), -1).any(axis=1)):
        keep = np.unravel_index(int(np.argmax(margin[s].reshape(-1))), values.shape[1:])
        gaps[(s, *keep)] = False
    values[gaps] = np.nan
    return values


def check_mode(missing: Any, field: str = "missing") -> str:
    if missing not in MISSING_MODES:
        raise BadInputError(field, f"got {missing!r}", allowed=", ".join(MISSING_MODES))
    return str(missing)


def require_support(architectures: Sequence[Any], n_missing: int, dataset: str,
                    ragged: bool = False, able: Sequence[str] = ()) -> None:
    """Refuse to train an architecture that cannot learn from missing points on a dataset that
    has them, or series of unequal lengths (their padding is learnt as missing points):
    ``supports_missing``, see ``interfaces.ModelArchitecture``. ``able``: the installed
    architectures that can, for the message."""
    if n_missing <= 0 and not ragged:
        return
    unable = [a.name for a in architectures if not getattr(a, "supports_missing", False)]
    if unable:
        has = " and ".join(part for part, on in ((f"{n_missing} missing values", n_missing > 0),
                                                  ("series of unequal lengths", ragged)) if on)
        raise BadInputError(
            "architectures", f"{', '.join(unable)} cannot learn from series with missing "
            f"points or unequal lengths, and dataset {dataset!r} has {has}",
            allowed=", ".join(able) or "none installed (an architecture must declare "
                                       "supports_missing)")
