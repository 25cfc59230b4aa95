"""What a third-party plugin looks like: one module, ``hookimpl`` and registry calls.

It adds a signal generator (``sawtooth``), a quality metric (``range_gap``) and a model family
(``pca_gaussian``, a class-conditional linear Gaussian in NumPy: ``synthts_example.gaussian``),
registered through ``register_model_architectures`` like the built-in GAN and diffusion families.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthts_core import hookimpl
from synthts_core.schema import ParamSchema, float_param
from synthts_example.gaussian import PcaGaussianArchitecture


class Sawtooth:
    """A sawtooth wave with a random phase per series."""

    name = "sawtooth"
    kind = "signal"
    description = "Sawtooth wave: rises linearly over each period, then drops."
    random = True
    schema = ParamSchema(
        (
            float_param(
                "frequency", 0.05, 0.0, 10.0, low_exclusive=True, help="Cycles per unit of time."
            ),
            float_param(
                "amplitude",
                1.0,
                0.0,
                1e6,
                low_exclusive=True,
                help="Peak-to-peak height divided by two.",
            ),
        )
    )

    def check(self, params: Mapping[str, Any]) -> None:
        """No constraints across parameters."""

    def generate(
        self, n: int, times: np.ndarray, params: Mapping[str, Any], rng: np.random.Generator
    ) -> np.ndarray:
        phase = rng.uniform(0.0, 1.0, size=(n, 1))
        cycles = np.broadcast_to(times, (n, times.shape[-1])) * params["frequency"] + phase
        return params["amplitude"] * (2.0 * (cycles - np.floor(cycles)) - 1.0)


class RangeGap:
    """Relative gap between the mean peak-to-peak range of real and synthetic series.

    0 means the synthetic series swing as widely as the real ones; 1 means a gap as large as
    the real range itself. A cheap sanity check that a generator did not collapse to a flat line.
    """

    name = "range_gap"
    description = "|mean range(real) - mean range(synthetic)| / mean range(real), per channel mean."
    higher_is_better = False
    min_channels = 1

    def compute(self, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator) -> float:
        real_range = np.ptp(real, axis=-1).mean(axis=0)
        synth_range = np.ptp(synthetic, axis=-1).mean(axis=0)
        gap = np.abs(real_range - synth_range) / np.maximum(real_range, 1e-12)
        return float(gap.mean())


@hookimpl
def register_signal_generators(registry) -> None:
    registry.add(Sawtooth())


@hookimpl
def register_metrics(registry) -> None:
    registry.add(RangeGap())


@hookimpl
def register_model_architectures(registry) -> None:
    registry.add(PcaGaussianArchitecture())
