"""Walks through a generator's latent space: between two latent points, or between two labels.

Replaces the seed's ffmpeg GIF with plain arrays (and ``figures.interpolation_animation``).
Latent walks are spherical: Gaussian latents live near a sphere, and a straight line between
two of them passes through low-norm points the generator rarely saw. The direction moves along
the great circle and the norm moves linearly from one end's to the other's, so the path starts
and ends exactly at the two points and never shrinks towards the origin; nearly parallel points
fall back to a straight line, where the spherical formula divides by ~0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from synthts_core.errors import BadInputError

if TYPE_CHECKING:
    from synthts_core.loaded_model import LoadedModel

PARALLEL_THRESHOLD = 0.9995
MAX_STEPS = 1000


def slerp(a: np.ndarray, b: np.ndarray, t: float,
          threshold: float = PARALLEL_THRESHOLD) -> np.ndarray:
    """Point at fraction ``t`` of the spherical path from ``a`` to ``b`` (1-D vectors)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-12 or nb < 1e-12:
        return (1.0 - t) * a + t * b
    ua, ub = a / na, b / nb
    cos = float(np.clip(ua @ ub, -1.0, 1.0))
    if abs(cos) > threshold:
        return (1.0 - t) * a + t * b
    theta = np.arccos(cos)
    direction = (np.sin((1.0 - t) * theta) * ua + np.sin(t * theta) * ub) / np.sin(theta)
    return ((1.0 - t) * na + t * nb) * direction


def _fractions(steps: int) -> np.ndarray:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or not (
            2 <= steps <= MAX_STEPS):
        raise BadInputError("steps", f"got {steps!r}", allowed=f"an integer in 2..{MAX_STEPS}")
    return np.linspace(0.0, 1.0, int(steps))


def latent_path(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """(steps, latent_dim) points from ``a`` to ``b`` inclusive."""
    return np.stack([slerp(a, b, t) for t in _fractions(steps)]).astype(np.float32)


@dataclass
class Interpolation:
    """Series in real units along a path: ``values`` (steps, channels, length), the latent
    point of each step, and the class mixture of each step for a label walk."""

    values: np.ndarray
    fractions: np.ndarray
    z: np.ndarray
    label_weights: np.ndarray | None
    description: str


def _real_units(model: LoadedModel, raw: Any) -> np.ndarray:
    return model.in_units(model.from_network(raw), "real")


def _latent(model: LoadedModel, value: Sequence[float] | np.ndarray | int | None,
            field: str) -> np.ndarray:
    """A latent point given as a vector, or drawn from an integer seed."""
    dim = int(model.trainer.latent_dim)
    if value is None or (isinstance(value, int | np.integer) and not isinstance(value, bool)):
        if value is not None and value < 0:
            raise BadInputError(field, f"got seed {value}", allowed="an integer >= 0")
        return np.random.default_rng(value).standard_normal(dim).astype(np.float32)
    z = np.asarray(value, np.float32).reshape(-1)
    if z.shape != (dim,) or not np.isfinite(z).all():
        raise BadInputError(field, f"has shape {z.shape}",
                            allowed=f"{dim} finite numbers (the model's latent size) or a seed")
    return z


def between_latents(model: LoadedModel, start: Any, end: Any, steps: int = 16,
                    label: str | int | None = None) -> Interpolation:
    """From latent ``start`` to ``end`` (vectors, or seeds that draw them), one class held."""
    za, zb = _latent(model, start, "start"), _latent(model, end, "end")
    path = latent_path(za, zb, steps)
    labels = None
    if model.conditional:
        index = model.label_index(label if label is not None else 0)
        labels = np.full(len(path), index, np.int64)
    elif label is not None:
        raise BadInputError("label", f"model {model.ref.name!r} is unconditional",
                            allowed="no label")
    with model._lock:
        raw = model.trainer.generate(len(path), labels=labels, z=path)
    return Interpolation(_real_units(model, raw), _fractions(steps), path, None,
                         "latent walk" + (f" (label {label})" if label is not None else ""))


def between_labels(model: LoadedModel, label_from: str | int, label_to: str | int,
                   steps: int = 16, z: Any = 0) -> Interpolation:
    """One latent point, the class conditioning moving from one label to the other."""
    if not model.conditional:
        raise BadInputError("label_from", f"model {model.ref.name!r} is unconditional",
                            allowed="a conditional model")
    a, b = model.label_index(label_from), model.label_index(label_to)
    fractions = _fractions(steps)
    n_classes = len(model.label_names) or int(model.config.get("n_classes") or 0)
    weights = np.zeros((len(fractions), n_classes), np.float32)
    weights[:, a] += 1.0 - fractions
    weights[:, b] += fractions
    zs = np.repeat(_latent(model, z, "z")[None, :], len(fractions), axis=0)
    with model._lock:
        raw = model.trainer.generate(len(fractions), z=zs, label_weights=weights)
    return Interpolation(_real_units(model, raw), fractions, zs, weights,
                         f"label walk {label_from} -> {label_to}")

