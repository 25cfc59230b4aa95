"""NARMA(n): the non-linear autoregressive moving average benchmark process.

``y(k+1) = a0 y(k) + a1 y(k) sum_{i=0}^{n-1} y(k-i) + a2 u(k-n+1) u(k) + a3`` with
``u ~ Uniform(0, 0.5)``. The recurrence runs over time with a running window sum, vectorised
across the batch. Every series draws its own ``u`` (TimeSynth seeds every NARMA object with 42,
so its series are all the same).

Beyond order ~10 the textbook recurrence diverges for some or all series (NARMA-10 loses about
one series in 200 over 1000 points), so ``saturation="tanh"`` (the default) wraps the right-hand
side in ``tanh`` as Atiya and Parlos do for high orders; ``"none"`` is the plain recurrence and
an error if it diverges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthts_core.errors import BadInputError
from synthts_core.schema import Param, ParamSchema, choice_param, int_param
from synthts_timesynth.base import Generator

DIVERGENCE_LIMIT = 1e6


class NARMA(Generator):
    name = "narma"
    description = ("NARMA(order): y(k+1) = a0*y(k) + a1*y(k)*sum_{i<order} y(k-i) "
                   "+ a2*u(k-order+1)*u(k) + a3, u ~ U(0, 0.5), zero start values, "
                   "optionally saturated with tanh.")
    schema = ParamSchema((
        int_param("order", 10, 1, 1000, help="Number of past values in the non-linear sum."),
        Param("coefficients", "float_list", [0.3, 0.05, 1.5, 0.1],
              "Coefficients a0, a1, a2, a3 of the recurrence.", low=-1e3, high=1e3,
              min_items=4, max_items=4),
        choice_param("saturation", "tanh", ("tanh", "none"),
                     help="tanh keeps every order bounded; none is the plain recurrence, "
                          "which diverges beyond order ~10."),
    ))

    def check(self, params: Mapping[str, Any]) -> None:
        a0 = params["coefficients"][0]
        if abs(a0) >= 1.0:
            raise BadInputError("coefficients", f"a0={a0} makes the linear part explode",
                                allowed="|a0| < 1")

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        length = np.shape(times)[-1]
        order = params["order"]
        a0, a1, a2, a3 = params["coefficients"]
        saturate = params["saturation"] == "tanh"
        u = rng.uniform(0.0, 0.5, size=(order + length, n))
        # u(k-n+1) * u(k) for every step, computed at once
        drive = a2 * u[: length] * u[order - 1: order - 1 + length] + a3
        y = np.zeros((order + length, n))
        window = np.zeros(n)  # sum of the last `order` values
        step = np.empty(n)
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(order, order + length):
                last, row = y[k - 1], y[k]
                window += last
                window -= y[k - 1 - order]
                np.multiply(window, a1, out=step)
                step += a0
                step *= last
                np.add(step, drive[k - order], out=row)
                if saturate:
                    np.tanh(row, out=row)
        out = y[order:].T
        worst = np.nanmax(np.abs(out)) if out.size else 0.0
        if not np.isfinite(out).all() or worst > DIVERGENCE_LIMIT:
            raise BadInputError(
                "saturation", f"NARMA({order}) with coefficients {params['coefficients']} diverged "
                f"within {length} points", allowed="saturation='tanh', a lower order or a "
                "smaller a1")
        return np.ascontiguousarray(out)
