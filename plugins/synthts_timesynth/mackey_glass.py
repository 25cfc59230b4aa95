"""Mackey-Glass delay differential equation, integrated for a whole batch at once.

``dx/dt = beta x(t - tau) / (1 + x(t - tau)^n) - gamma x(t)``. Fixed-step classical RK4 on a
grid whose step divides ``tau`` exactly, so delayed values are grid points (half steps use the
mean of the two neighbours). Each series starts from its own constant history drawn uniformly
from [history_low, history_high]; after ``burn_in`` time units the chaotic regime (tau >= 17)
has forgotten it, so series differ (TimeSynth starts every series from the same history).
Values at the requested times are linearly interpolated from the integration grid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from synthts_core.errors import BadInputError
from synthts_core.schema import ParamSchema, float_param
from synthts_timesynth.base import Generator

MAX_STEPS = 2_000_000


class MackeyGlass(Generator):
    name = "mackey_glass"
    description = ("Mackey-Glass delay equation dx/dt = beta*x(t-tau)/(1+x(t-tau)^n) - gamma*x, "
                   "chaotic for tau >= 17, random constant history per series.")
    schema = ParamSchema((
        float_param("tau", 17.0, 0.0, 1000.0, low_exclusive=True, help="Delay."),
        float_param("n", 10.0, 0.0, 100.0, low_exclusive=True, help="Exponent of the feedback."),
        float_param("beta", 0.2, 0.0, 100.0, low_exclusive=True, help="Feedback gain."),
        float_param("gamma", 0.1, 0.0, 100.0, low_exclusive=True, help="Decay rate."),
        float_param("burn_in", 500.0, 0.0, 100_000.0,
                    help="Time integrated and dropped before t = 0."),
        float_param("dt", 0.1, 0.0, 1.0, low_exclusive=True,
                    help="Largest integration step (shrunk so it divides tau)."),
        float_param("history_low", 0.5, 0.0, 10.0, low_exclusive=True,
                    help="Lowest constant history value drawn per series."),
        float_param("history_high", 1.5, 0.0, 10.0, low_exclusive=True,
                    help="Highest constant history value drawn per series."),
    ))

    def check(self, params: Mapping[str, Any]) -> None:
        if params["history_low"] > params["history_high"]:
            raise BadInputError("history_low", f"{params['history_low']} is above "
                                f"history_high={params['history_high']}",
                                allowed="at most history_high")

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        times = np.asarray(times, dtype=np.float64)
        tau, expo, beta, gamma = params["tau"], params["n"], params["beta"], params["gamma"]
        delay = max(1, math.ceil(tau / params["dt"] - 1e-9))  # steps per tau
        h = tau / delay
        t_lo = min(0.0, float(times.min())) if times.size else 0.0
        t_hi = float(times.max()) if times.size else 0.0
        burn = params["burn_in"] - t_lo  # negative times read into the burn-in
        total = math.ceil((burn + t_hi) / h) + 1
        if total > MAX_STEPS:
            raise BadInputError("times", f"need {total} integration steps",
                                allowed=f"burn_in + time span at most {MAX_STEPS} * dt")
        keep_from = math.floor(max(0.0, params["burn_in"] + t_lo) / h)
        history = rng.uniform(params["history_low"], params["history_high"], size=n)

        def feedback(lagged: np.ndarray) -> np.ndarray:
            return beta * lagged / (1.0 + np.power(lagged, expo))

        slots = delay + 1
        ring = np.empty((slots, n))  # x_j in slot j % slots for the last delay+1 grid points
        ring[:] = history
        kept = np.empty((total - keep_from, n))
        x = history.copy()
        if keep_from == 0:
            kept[0] = x
        for k in range(1, total):
            lag0 = ring[k % slots]  # x_{k-1-delay} = x(t_{k-1} - tau), the oldest entry
            lag1 = ring[(k + 1) % slots]  # x_{k-delay} = x(t_k - tau)
            f0, f1 = feedback(lag0), feedback(lag1)
            fm = feedback(0.5 * (lag0 + lag1))
            k1 = f0 - gamma * x
            k2 = fm - gamma * (x + 0.5 * h * k1)
            k3 = fm - gamma * (x + 0.5 * h * k2)
            k4 = f1 - gamma * (x + h * k3)
            x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            ring[k % slots] = x
            if k >= keep_from:
                kept[k - keep_from] = x
        # sample at burn_in + t by linear interpolation on the grid
        pos = (params["burn_in"] + np.broadcast_to(times, (n, times.shape[-1]))) / h - keep_from
        pos = np.clip(pos, 0.0, len(kept) - 1.0)
        left = np.minimum(np.floor(pos).astype(np.int64), len(kept) - 2 if len(kept) > 1 else 0)
        frac = pos - left
        right = np.minimum(left + 1, len(kept) - 1)
        cols = np.arange(n)[:, None]
        return kept[left, cols] * (1.0 - frac) + kept[right, cols] * frac
