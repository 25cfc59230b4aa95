"""Named dataset specs: the seed project's ten harmonic classes and the TimeGAN "sines" set.

Both accept the same overrides: ``name``, ``seed``, ``count`` (series per class), ``length`` and
``engine``; anything else is bad input naming the override.
"""

from __future__ import annotations

from typing import Any

from synthts_core.domain import ClassSpec, ComponentSpec, DatasetSpec, SamplingSpec
from synthts_core.errors import BadInputError

OVERRIDES = ("name", "seed", "count", "length", "engine")


def _check_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise BadInputError(unknown[0], "is not a preset override", allowed=", ".join(OVERRIDES))
    return {k: v for k, v in overrides.items() if v is not None}


def _positive_int(value: Any, field: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise BadInputError(field, f"got {value!r}", allowed=f"an integer in [1, {high}]")
    return value


class Harmonics10:
    """The seed's training set: TimeSynth sinusoids on ``TimeSampler(stop_time=1)``, i.e. the
    grid ``linspace(0, 1, length)``, so frequency f makes f full cycles per series (1..10 are
    well resolved at 1024 points) plus white noise of std 0.2."""

    name = "harmonics10"
    description = ("Ten harmonic classes, frequency 1..10 cycles over t in [0, 1], amplitude 2, "
                   "Gaussian noise std 0.2; 1000 series of length 1024 each (the seed's set).")

    def spec(self, **overrides: Any) -> DatasetSpec:
        o = _check_overrides(overrides)
        count = _positive_int(o.get("count", 1000), "count", 10_000_000)
        length = _positive_int(o.get("length", 1024), "length", 1_000_000)
        step = 1.0 / (length - 1) if length > 1 else 1.0
        noise = ComponentSpec("gaussian_noise", {"mean": 0.0, "std": 0.2})
        classes = [
            ClassSpec(label=f"{f}Hz", count=count,
                      signal=ComponentSpec("sinusoidal", {"amplitude": 2.0, "frequency": float(f)}),
                      noise=noise)
            for f in range(1, 11)
        ]
        return DatasetSpec(
            name=o.get("name", "harmonics10"), length=length, classes=classes,
            sampling=SamplingSpec(kind="regular", start=0.0, step=step),
            seed=o.get("seed", 0), engine=o.get("engine", "vectorised"),
            tags=["preset", "harmonics10"], description=self.description,
        )


class Sines:
    """TimeGAN's sines: per series and channel ``sin(w t + phase)`` on t = 0..length-1 with w
    and phase uniform in [0, 0.1], mapped to [0, 1] by (x + 1) / 2."""

    name = "sines"
    description = ("TimeGAN sines benchmark: 10000 series, 5 channels, length 24, per series "
                   "and channel frequency and phase uniform in [0, 0.1], scaled by (x+1)/2.")

    def spec(self, **overrides: Any) -> DatasetSpec:
        o = _check_overrides(overrides)
        count = _positive_int(o.get("count", 10_000), "count", 10_000_000)
        length = _positive_int(o.get("length", 24), "length", 1_000_000)
        signal = ComponentSpec("random_sinusoidal", {
            "amplitude": 1.0, "frequency_low": 0.0, "frequency_high": 0.1,
            "phase_low": 0.0, "phase_high": 0.1, "angular": True,
        })
        return DatasetSpec(
            name=o.get("name", "sines"), length=length, n_channels=5,
            classes=[ClassSpec(label="sine", count=count, signal=signal, transform="half_shift")],
            sampling=SamplingSpec(kind="regular", start=0.0, step=1.0),
            seed=o.get("seed", 0), engine=o.get("engine", "vectorised"),
            tags=["preset", "sines", "timegan"], description=self.description,
        )
