"""Periodic signals: the sinusoid, a sinusoid with per-series random frequency and phase (the
TimeGAN "sines" benchmark) and TimeSynth's pseudo-periodic wave."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthts_core.errors import BadInputError
from synthts_core.schema import ParamSchema, bool_param, float_param
from synthts_timesynth.base import Generator, grid, sin_f32, standard_normal

BIG = 1e6


class Sinusoidal(Generator):
    """``amplitude * sin(2 pi frequency t + phase)``: the same for every series, so it is
    computed once and tiled (that is why it is cheap at 10,000 x 1024)."""

    name = "sinusoidal"
    description = "Harmonic wave amplitude * sin(2*pi*frequency*t + phase), identical per series."
    random = False
    schema = ParamSchema((
        float_param("amplitude", 1.0, -BIG, BIG, help="Peak height of the wave."),
        float_param("frequency", 1.0, 0.0, BIG, help="Cycles per unit of time."),
        float_param("phase", 0.0, -BIG, BIG, help="Phase shift in radians."),
    ))

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        times = np.asarray(times, dtype=np.float64)
        angle = (2.0 * np.pi * params["frequency"]) * times + params["phase"]
        wave = params["amplitude"] * np.sin(angle)
        if wave.ndim == 1:
            return np.tile(wave.astype(np.float32), (n, 1))
        return wave


class RandomSinusoidal(Generator):
    """Each series draws its frequency and phase uniformly from a range: what the TimeGAN
    "sines" benchmark needs and what TimeSynth cannot express."""

    name = "random_sinusoidal"
    description = ("Sinusoid amplitude * sin(w*t + phase) with frequency and phase drawn per "
                   "series uniformly from [frequency_low, frequency_high] and "
                   "[phase_low, phase_high].")
    schema = ParamSchema((
        float_param("amplitude", 1.0, -BIG, BIG, help="Peak height of the wave."),
        float_param("frequency_low", 0.0, 0.0, BIG, help="Lowest frequency drawn."),
        float_param("frequency_high", 0.1, 0.0, BIG, help="Highest frequency drawn."),
        float_param("phase_low", 0.0, -BIG, BIG, help="Lowest phase drawn (radians)."),
        float_param("phase_high", 0.1, -BIG, BIG, help="Highest phase drawn (radians)."),
        bool_param("angular", True, help="Frequencies in radians per unit time (TimeGAN); "
                                          "false: cycles per unit time."),
    ))

    def check(self, params: Mapping[str, Any]) -> None:
        for what in ("frequency", "phase"):
            low, high = params[f"{what}_low"], params[f"{what}_high"]
            if low > high:
                raise BadInputError(f"{what}_low", f"{low} is above {what}_high={high}",
                                    allowed=f"at most {what}_high")

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        freq = rng.uniform(params["frequency_low"], params["frequency_high"], size=(n, 1))
        phase = rng.uniform(params["phase_low"], params["phase_high"], size=(n, 1))
        if not params["angular"]:
            freq = freq * (2.0 * np.pi)
        out = sin_f32(freq * grid(n, times) + phase)
        out *= np.float32(params["amplitude"])
        return out


class PseudoPeriodic(Generator):
    """TimeSynth's pseudo-periodic wave: every point draws its own amplitude and (angular)
    frequency from normals, ``x_t = A_t sin(F_t t)``, so the wave jitters around a sinusoid."""

    name = "pseudo_periodic"
    description = ("Pseudo-periodic wave A_t*sin(F_t*t), A_t ~ N(amplitude, amplitude_sd), "
                   "F_t ~ N(frequency, frequency_sd) per point (TimeSynth's PseudoPeriodic).")
    schema = ParamSchema((
        float_param("amplitude", 1.0, -BIG, BIG, help="Mean amplitude."),
        float_param("frequency", 100.0, 0.0, BIG, help="Mean angular frequency (radians per "
                                                        "unit time, as in TimeSynth)."),
        float_param("amplitude_sd", 0.1, 0.0, BIG, help="Standard deviation of the amplitude."),
        float_param("frequency_sd", 0.4, 0.0, BIG, help="Standard deviation of the frequency."),
    ))

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        shape = (n, np.shape(times)[-1])
        freq = standard_normal(rng, shape)
        freq *= np.float32(params["frequency_sd"])
        freq += np.float32(params["frequency"])
        out = sin_f32(np.multiply(freq, grid(n, times), dtype=np.float64))
        amp = standard_normal(rng, shape)
        amp *= np.float32(params["amplitude_sd"])
        amp += np.float32(params["amplitude"])
        out *= amp
        return out
