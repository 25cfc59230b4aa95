"""Noise processes added on top of a signal: white Gaussian noise and TimeSynth's red noise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.signal import lfilter

from synthts_core.schema import ParamSchema, float_param
from synthts_timesynth.base import Generator, shared_step, standard_normal, steps_of

BIG = 1e6


class GaussianNoise(Generator):
    """Independent normal noise per point, drawn in float32 (what datasets store)."""

    name = "gaussian_noise"
    kind = "noise"
    description = "White noise: every point independent N(mean, std^2)."
    schema = ParamSchema((
        float_param("mean", 0.0, -BIG, BIG, help="Mean of the noise."),
        float_param("std", 1.0, 0.0, BIG, help="Standard deviation of the noise."),
    ))

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        out = standard_normal(rng, (n, np.shape(times)[-1]))
        if params["std"] != 1.0:
            out *= np.float32(params["std"])
        if params["mean"] != 0.0:
            out += np.float32(params["mean"])
        return out


class RedNoise(Generator):
    """TimeSynth's red (correlated) noise: ``r_0 = 0`` and
    ``r_k = tau / (tau + dt) * (dt * w_k + r_{k-1})`` with ``w_k ~ N(mean, std^2)``.

    On a shared regular grid this is one first-order linear filter over the whole batch; on
    per-series grids the recurrence runs over time, vectorised across series.
    """

    name = "red_noise"
    kind = "noise"
    description = ("Red noise r_k = tau/(tau+dt) * (dt*w_k + r_{k-1}), r_0 = 0, "
                   "w_k ~ N(mean, std^2) (TimeSynth's RedNoise).")
    schema = ParamSchema((
        float_param("mean", 0.0, -BIG, BIG, help="Mean of the driving white noise."),
        float_param("std", 1.0, 0.0, BIG, help="Standard deviation of the driving noise."),
        float_param("tau", 0.2, 0.0, BIG, low_exclusive=True,
                    help="Correlation time: larger keeps more of the previous value."),
    ))

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        length = np.shape(times)[-1]
        tau = params["tau"]
        white = np.multiply(standard_normal(rng, (n, length - 1)), params["std"],
                            dtype=np.float64)
        white += params["mean"]
        out = np.zeros((n, length))
        if length < 2:
            return out
        step = shared_step(times)
        if step is not None:
            keep = tau / (tau + step)
            out[:, 1:] = lfilter([keep * step], [1.0, -keep], white, axis=1)
            return out
        dts = steps_of(n, times)
        keep = tau / (tau + dts)
        prev = out[:, 0]
        for k in range(length - 1):
            prev = keep[:, k] * (dts[:, k] * white[:, k] + prev)
            out[:, k + 1] = prev
        return out
