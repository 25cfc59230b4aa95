"""Entry point of the built-in timesynth plugin: TimeSynth's signals and noises as vectorised
batch generators (each also runnable through the timesynth library itself where it can), and
the dataset presets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthts_core import hookimpl

if TYPE_CHECKING:
    from synthts_timesynth.base import Generator

# The generator modules import scipy: they load when the hooks run, not when the plugin is
# imported (``synthts --help`` imports every plugin to list its commands).


def generator_classes() -> tuple[type[Generator], ...]:
    from synthts_timesynth.autoregressive import CAR, AutoRegressive
    from synthts_timesynth.gaussian_process import GaussianProcess
    from synthts_timesynth.mackey_glass import MackeyGlass
    from synthts_timesynth.narma import NARMA
    from synthts_timesynth.noise import GaussianNoise, RedNoise
    from synthts_timesynth.periodic import PseudoPeriodic, RandomSinusoidal, Sinusoidal

    return (Sinusoidal, RandomSinusoidal, PseudoPeriodic, AutoRegressive, CAR, NARMA,
            GaussianProcess, MackeyGlass, GaussianNoise, RedNoise)


def builtin_generators() -> list[Generator]:
    """Fresh instances with their timesynth engines attached."""
    from synthts_timesynth.timesynth_engine import ENGINE, engines

    alternatives = engines()
    out = []
    for cls in generator_classes():
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
    from synthts_timesynth.presets import Harmonics10, Sines

    registry.add(Harmonics10())
    registry.add(Sines())
