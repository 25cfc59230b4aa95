"""The timesynth 0.2.4 library as a second engine (``engine="timesynth"``).

It runs one Python object per series, as TimeSynth does, with the legacy global NumPy random
state seeded per series from the batch ``rng`` (and restored afterwards), so a batch is
reproducible and its series differ. Small shims make it run under NumPy 2 and do what its
documentation says:

- AutoRegressive, CAR and RedNoise return one-element arrays from ``sample_next``, which NumPy 2
  refuses to store into a float array (and AR(p>1) keeps a history of ints and arrays NumPy 2
  cannot sum): the shims return and keep floats.
- NARMA seeds every object with 42 (all series equal) and its window sum ``y[i-n:n]`` is empty
  after the first steps: the shim seeds per series and uses the documented recurrence.
- MackeyGlass starts every series from the same history: the shim passes a constant history
  drawn per series, like the vectorised engine.

Not run by timesynth (``check`` says why): ``random_sinusoidal`` (no per-series parameters),
a ``sinusoidal`` phase, NARMA with ``saturation="tanh"``, a Periodic kernel with a lengthscale
other than 1 (timesynth's Periodic kernel has none).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from synthts_core.errors import BadInputError

ENGINE = "timesynth"


def _shims() -> dict[str, type]:
    """Subclasses of the timesynth classes that need a fix (built lazily: importing timesynth
    pulls in jitcdde and symengine)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from timesynth.noise import RedNoise
        from timesynth.signals import CAR, NARMA, AutoRegressive

    class FloatAR(AutoRegressive):
        def sample_next(self, time, samples, errors):
            value = float(np.ravel(super().sample_next(time, samples, errors))[0])
            # its history mixes ints and 1-element arrays, which NumPy 2 cannot sum
            self.previous_value = [float(np.ravel(v)[0]) for v in self.previous_value]
            return value

    class FloatCAR(CAR):
        def sample_next(self, time, samples, errors):
            return float(np.ravel(super().sample_next(time, samples, errors))[0])

    class FloatRedNoise(RedNoise):
        def sample_next(self, t, samples, errors):
            return float(np.ravel(super().sample_next(t, samples, errors))[0])

    class DocumentedNARMA(NARMA):
        def _next_value(self, values, rands, index):
            n, a, i = self.order, self.coefficients, index
            return (a[0] * values[i - 1] + a[1] * values[i - 1] * np.sum(values[i - n:i])
                    + a[2] * rands[i - n] * rands[i - 1] + a[3])

    return {"AR": FloatAR, "CAR": FloatCAR, "RedNoise": FloatRedNoise, "NARMA": DocumentedNARMA}


_SHIMS: dict[str, type] = {}


def shim(name: str) -> type:
    if not _SHIMS:
        _SHIMS.update(_shims())
    return _SHIMS[name]


def _signals() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import timesynth.signals as signals
    return signals


def _noise() -> Any:
    import timesynth.noise as noise

    return noise


# ------------------------------------------------------------------ one builder per generator
# builder(params, seed, rng) -> (timesynth object, is_noise, extra points to drop at the start)


def _sinusoidal(p: Mapping[str, Any], seed: int, rng: np.random.Generator) -> Any:
    return _signals().Sinusoidal(amplitude=p["amplitude"], frequency=p["frequency"])


def _pseudo_periodic(p: Mapping[str, Any], seed: int, rng: np.random.Generator) -> Any:
    return _signals().PseudoPeriodic(amplitude=p["amplitude"], frequency=p["frequency"],
                                     ampSD=p["amplitude_sd"], freqSD=p["frequency_sd"])


def _autoregressive(p: Mapping[str, Any], seed: int, rng: np.random.Generator) -> Any:
    return shim("AR")(ar_param=list(p["ar_param"]), sigma=p["sigma"])


def _car(p: Mapping[str, Any], seed: int, rng: np.random.Generator) -> Any:
    return shim("CAR")(ar_param=p["ar_param"], sigma=p["sigma"], start_value=p["start_value"])


def _narma(p: Mapping[str, Any], seed: int, rng: np.random.Generator) -> Any:
    return shim("NARMA")(order=p["order"], coefficients=list(p["coefficients"]), seed=seed)


def _gaussian_process(p: Mapping[str, Any], seed: int, rng: np.random.Generator) -> Any:
    return _signals().GaussianProcess(
        kernel=p["kernel"], lengthscale=p["lengthscale"], mean=p["mean"],
        variance=p["variance"], c=p["c"], gamma=p["gamma"], alpha=p["alpha"],
        offset=p["offset"], nu=p["nu"], p=p["p"])


def _mackey_glass(p: Mapping[str, Any], seed: int, rng: np.random.Generator) -> Any:
    level = float(rng.uniform(p["history_low"], p["history_high"]))
    tau = p["tau"]
    # constant history on [0, tau]; integration starts at tau, so burn_in counts from there
    return _signals().MackeyGlass(tau=tau, n=p["n"], beta=p["beta"], gamma=p["gamma"],
                                  initial_condition=[(0.0, level, 0.0), (tau, level, 0.0)],
                                  burn_in=p["burn_in"] + tau)


def _gaussian_noise(p: Mapping[str, Any], seed: int, rng: np.random.Generator) -> Any:
    return _noise().GaussianNoise(mean=p["mean"], std=p["std"])


def _red_noise(p: Mapping[str, Any], seed: int, rng: np.random.Generator) -> Any:
    return shim("RedNoise")(mean=p["mean"], std=p["std"], tau=p["tau"])


def _no_phase(p: Mapping[str, Any]) -> None:
    if p["phase"] != 0.0:
        raise BadInputError("phase", "timesynth's Sinusoidal has no phase",
                            allowed="0 with engine 'timesynth'")


def _no_saturation(p: Mapping[str, Any]) -> None:
    if p["saturation"] != "none":
        raise BadInputError("saturation", "timesynth runs the plain NARMA recurrence",
                            allowed="'none' with engine 'timesynth'")


def _periodic_lengthscale(p: Mapping[str, Any]) -> None:
    if p["kernel"] == "Periodic" and p["lengthscale"] != 1.0:
        raise BadInputError("lengthscale", "timesynth's Periodic kernel has no lengthscale",
                            allowed="1 with kernel 'Periodic' and engine 'timesynth'")


class TimesynthEngine:
    """One generator run through timesynth: ``check(params)`` then ``generate`` like the
    vectorised generator (same signature, same parameters)."""

    name = ENGINE

    def __init__(self, generator: str, kind: str,
                 build: Callable[[Mapping[str, Any], int, np.random.Generator], Any],
                 check: Callable[[Mapping[str, Any]], None] | None = None,
                 drop: Callable[[Mapping[str, Any]], int] | None = None) -> None:
        self.generator = generator
        self.kind = kind
        self._build = build
        self._check = check
        self._drop = drop

    def check(self, params: Mapping[str, Any]) -> None:
        if self._check is not None:
            self._check(params)

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        self.check(params)
        import timesynth as ts

        times = np.asarray(times, dtype=np.float64)
        length = times.shape[-1]
        drop = self._drop(params) if self._drop else 0
        seeds = rng.integers(0, 2**32, size=n)
        out = np.empty((n, length))
        saved = np.random.get_state()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for i in range(n):
                    np.random.seed(int(seeds[i]))
                    series_rng = np.random.default_rng(int(seeds[i]))
                    obj = self._build(params, int(seeds[i]), series_rng)
                    t = times if times.ndim == 1 else times[i]
                    if drop:
                        t = np.concatenate((t[0] - np.arange(drop, 0, -1.0), t))
                    if self.kind == "noise":
                        quiet = ts.signals.Sinusoidal(amplitude=0.0)
                        value = ts.TimeSeries(quiet, noise_generator=obj).sample(t)[2]
                    else:
                        value = ts.TimeSeries(obj).sample(t)[0]
                    out[i] = np.asarray(value, dtype=np.float64).reshape(-1)[drop:]
        finally:
            np.random.set_state(saved)
        return out


def engines() -> dict[str, TimesynthEngine]:
    """Generator name -> its timesynth engine, for every generator timesynth can run."""
    return {
        "sinusoidal": TimesynthEngine("sinusoidal", "signal", _sinusoidal, _no_phase),
        "pseudo_periodic": TimesynthEngine("pseudo_periodic", "signal", _pseudo_periodic),
        "autoregressive": TimesynthEngine("autoregressive", "signal", _autoregressive,
                                          drop=lambda p: p["burn_in"]),
        "car": TimesynthEngine("car", "signal", _car),
        "narma": TimesynthEngine("narma", "signal", _narma, _no_saturation),
        "gaussian_process": TimesynthEngine("gaussian_process", "signal", _gaussian_process,
                                            _periodic_lengthscale),
        "mackey_glass": TimesynthEngine("mackey_glass", "signal", _mackey_glass),
        "gaussian_noise": TimesynthEngine("gaussian_noise", "noise", _gaussian_noise),
        "red_noise": TimesynthEngine("red_noise", "noise", _red_noise),
    }
