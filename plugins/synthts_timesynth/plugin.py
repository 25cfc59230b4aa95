"""Entry point of the built-in timesynth plugin: TimeSynth's signals and noises as vectorised
batch generators (each also runnable through the timesynth library itself where it can), and
the dataset presets."""

from __future__ import annotations

from synthts_core import hookimpl
from synthts_timesynth.autoregressive import CAR, AutoRegressive
from synthts_timesynth.base import Generator
from synthts_timesynth.gaussian_process import GaussianProcess
from synthts_timesynth.mackey_glass import MackeyGlass
from synthts_timesynth.narma import NARMA
from synthts_timesynth.noise import GaussianNoise, RedNoise
from synthts_timesynth.periodic import PseudoPeriodic, RandomSinusoidal, Sinusoidal
from synthts_timesynth.presets import Harmonics10, Sines
from synthts_timesynth.timesynth_engine import ENGINE, engines

GENERATORS: tuple[type[Generator], ...] = (
    Sinusoidal, RandomSinusoidal, PseudoPeriodic, AutoRegressive, CAR, NARMA, GaussianProcess,
    MackeyGlass, GaussianNoise, RedNoise,
)


def builtin_generators() -> list[Generator]:
    """Fresh instances with their timesynth engines attached."""
    alternatives = engines()
    out = []
    for cls in GENERATORS:
        gen = cls()
        if gen.name in alternatives:
            gen.engines[ENGINE] = alternatives[gen.name]
        out.append(gen)
    return out


@hookimpl
def register_signal_generators(registry) -> None:
    for gen in builtin_generators():
        registry.add(gen)


@hookimpl
def register_dataset_presets(registry) -> None:
    registry.add(Harmonics10())
    registry.add(Sines())
