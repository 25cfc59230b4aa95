"""Linear autoregressions: AR(p) on the point index and the continuous-time CAR(1).

Both are linear filters of white noise, so a whole batch is one ``scipy.signal.lfilter`` call
instead of TimeSynth's Python loop over every point of every series.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.signal import lfilter

from synthts_core.errors import BadInputError
from synthts_core.schema import Param, ParamSchema, float_param, int_param
from synthts_timesynth.base import Generator, shared_step, standard_normal, steps_of

BIG = 1e6
MAX_ORDER = 256


def ar_roots(coefficients: list[float]) -> np.ndarray:
    """Roots of ``z^p - phi_1 z^(p-1) - ... - phi_p``; the AR process is stationary when all of
    them lie strictly inside the unit circle."""
    return np.roots(np.concatenate(([1.0], -np.asarray(coefficients, dtype=np.float64))))


class AutoRegressive(Generator):
    """``x_t = phi_1 x_{t-1} + ... + phi_p x_{t-p} + e_t``, ``e_t ~ N(0, sigma^2)``, started from
    zeros like TimeSynth (``burn_in`` drops a start-up stretch to begin near stationarity).
    Works on the point index, so irregular times only change where the points are plotted."""

    name = "autoregressive"
    description = ("AR(p) process x_t = sum_i phi_i x_{t-i} + e_t, e_t ~ N(0, sigma^2), "
                   "from zero start values; coefficients must give a stationary process.")
    schema = ParamSchema((
        Param("ar_param", "float_list", [0.5], "Coefficients phi_1..phi_p (any order p >= 1).",
              low=-BIG, high=BIG, min_items=1, max_items=MAX_ORDER),
        float_param("sigma", 0.5, 0.0, BIG, help="Standard deviation of the driving noise."),
        int_param("burn_in", 0, 0, 100_000, help="Points generated and dropped before the "
                                                 "series starts."),
    ))

    def check(self, params: Mapping[str, Any]) -> None:
        roots = ar_roots(params["ar_param"])
        largest = float(np.max(np.abs(roots))) if roots.size else 0.0
        if largest >= 1.0 - 1e-9:  # a unit root is not stationary, whatever the rounding
            raise BadInputError(
                "ar_param", f"{params['ar_param']} is not stationary: the characteristic "
                f"polynomial has a root of modulus {largest:.4g}",
                allowed="coefficients whose polynomial z^p - phi_1 z^(p-1) - ... - phi_p has "
                        "every root strictly inside the unit circle (for AR(1): |phi_1| < 1)")

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        length = np.shape(times)[-1]
        burn = params["burn_in"]
        noise = np.multiply(standard_normal(rng, (n, length + burn)), params["sigma"],
                            dtype=np.float64)
        denominator = np.concatenate(([1.0], -np.asarray(params["ar_param"], dtype=np.float64)))
        out = lfilter([1.0], denominator, noise, axis=1)
        return out[:, burn:]


class CAR(Generator):
    """TimeSynth's continuous autoregressive process: ``x_0 = start_value`` and
    ``x_k = phi^dt x_{k-1} + sigma sqrt(1 - phi^dt) e_k`` with ``dt`` the time since the last
    point, so it is defined for irregular times too. ``phi`` in (0, 1): at 1 the noise term
    vanishes, above 1 the process explodes, at or below 0 ``phi^dt`` is undefined."""

    name = "car"
    description = ("Continuous AR(1): x_k = ar_param^dt * x_{k-1} + sigma*sqrt(1-ar_param^dt)*e_k,"
                   " x_0 = start_value (TimeSynth's CAR).")
    schema = ParamSchema((
        float_param("ar_param", 0.5, 0.0, 1.0, low_exclusive=True, high_exclusive=True,
                    help="Correlation over one unit of time."),
        float_param("sigma", 0.5, 0.0, BIG, help="Scale of the driving noise."),
        float_param("start_value", 0.01, -BIG, BIG, help="Value at the first point."),
    ))

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        length = np.shape(times)[-1]
        phi, sigma = params["ar_param"], params["sigma"]
        drive = standard_normal(rng, (n, length)).astype(np.float64)
        drive[:, 0] = params["start_value"]
        step = shared_step(times)
        if step is not None:
            keep = phi ** step
            drive[:, 1:] *= sigma * np.sqrt(1.0 - keep)
            return lfilter([1.0], [1.0, -keep], drive, axis=1)
        keep = phi ** steps_of(n, times)
        drive[:, 1:] *= sigma * np.sqrt(1.0 - keep)
        out = drive
        for k in range(1, length):
            out[:, k] += keep[:, k - 1] * out[:, k - 1]
        return out
