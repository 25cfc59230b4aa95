"""What a third-party plugin looks like: one module, ``hookimpl`` and a registry call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthts_core import hookimpl
from synthts_core.schema import ParamSchema, float_param


class Sawtooth:
    """A sawtooth wave with a random phase per series."""

    name = "sawtooth"
    kind = "signal"
    description = "Sawtooth wave: rises linearly over each period, then drops."
    random = True
    schema = ParamSchema((
        float_param("frequency", 0.05, 0.0, 10.0, low_exclusive=True,
                    help="Cycles per unit of time."),
        float_param("amplitude", 1.0, 0.0, 1e6, low_exclusive=True,
                    help="Peak-to-peak height divided by two."),
    ))

    def check(self, params: Mapping[str, Any]) -> None:
        """No constraints across parameters."""

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        phase = rng.uniform(0.0, 1.0, size=(n, 1))
        cycles = np.broadcast_to(times, (n, times.shape[-1])) * params["frequency"] + phase
        return params["amplitude"] * (2.0 * (cycles - np.floor(cycles)) - 1.0)


@hookimpl
def register_signal_generators(registry) -> None:
    registry.add(Sawtooth())
