"""Dataset generation: validate a whole ``DatasetSpec``, then generate it deterministically.

Everything is checked before any value is made, and every error names its field path
(``classes[2].signal.params.frequency``). Randomness comes only from ``spec.seed``: each class,
chunk of series, channel and role (signal, noise, times) draws from its own
``SeedSequence(seed, spawn_key=...)``, so the same spec and seed give bit-identical values
whatever else the spec contains, and classes or channels never share a stream.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from synthts_core.domain import (
    ComponentSpec,
    Dataset,
    DatasetSpec,
    SamplingSpec,
    TimeAxis,
    check_name,
    from_builtins,
    to_builtins,
)
from synthts_core.errors import BadInputError
from synthts_core.limits import check_volume
from synthts_core.registry import Registries
from synthts_core.schema import prefixed, validate_params
from synthts_core.services.signals import VECTORISED, available_engines

TRANSFORMS = ("none", "minmax01", "half_shift")
CHUNK = 4096  # series generated together; part of the seeding scheme, so changing it changes data
MAX_LENGTH = 10_000_000
MAX_CHANNELS = 1024
MAX_CLASSES = 10_000
ROLE_SIGNAL, ROLE_NOISE, ROLE_TIMES = 0, 1, 2

Progress = Callable[[int, int], None]
GenerateFn = Callable[[int, np.ndarray, Mapping[str, Any], np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class _Component:
    name: str
    params: dict[str, Any]
    generate: GenerateFn


@dataclass(frozen=True)
class _ClassPlan:
    label: str
    count: int
    channels: list[tuple[_Component, _Component | None]]
    transform: str


# ----------------------------------------------------------------------------- validation


def _int_in(value: Any, field: str, low: int, high: int | None = None) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):
        raise BadInputError(field, f"got {value!r}",
                            allowed=f"an integer in [{low}, {high if high is not None else 'inf'}]")
    return value


def _component(registries: Registries, comp: Any, path: str, kind: str,
               engine: str) -> _Component:
    if not isinstance(comp, ComponentSpec):
        raise BadInputError(path, f"got {comp!r}", allowed="a generator name and its params")
    gen = registries.signals.require(comp.generator, f"{path}.generator")
    if gen.kind != kind:
        others = [g.name for g in registries.signals if g.kind == kind]
        raise BadInputError(f"{path}.generator", f"{comp.generator!r} is a {gen.kind}, not a {kind}",
                            allowed=", ".join(others) or f"no {kind} generator is installed")
    prefix = f"{path}.params."
    params = validate_params(gen, comp.params, prefix)
    if engine == VECTORISED:
        return _Component(comp.generator, params, gen.generate)
    alternative = (getattr(gen, "engines", None) or {}).get(engine)
    if alternative is None:
        able = [g.name for g in registries.signals if engine in (getattr(g, "engines", None) or {})]
        raise BadInputError(f"{path}.generator", f"{comp.generator!r} cannot run on engine "
                            f"{engine!r}", allowed=", ".join(able) or "none")
    try:
        alternative.check(params)
    except BadInputError as exc:
        raise prefixed(exc, prefix) from None
    return _Component(comp.generator, params, alternative.generate)


def _check_sampling(sampling: Any, field: str = "sampling") -> SamplingSpec:
    if not isinstance(sampling, SamplingSpec):
        raise BadInputError(field, f"got {sampling!r}", allowed="a sampling spec")
    if sampling.kind not in ("regular", "irregular"):
        raise BadInputError(f"{field}.kind", f"got {sampling.kind!r}",
                            allowed="'regular' or 'irregular'")
    for name in ("start", "step", "keep"):
        value = getattr(sampling, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadInputError(f"{field}.{name}", f"got {value!r}", allowed="a finite number")
    if sampling.step <= 0:
        raise BadInputError(f"{field}.step", f"got {sampling.step!r}", allowed="a number > 0")
    if not 0.0 < sampling.keep <= 1.0:
        raise BadInputError(f"{field}.keep", f"got {sampling.keep!r}", allowed="in (0, 1]")
    return sampling


def _plan(registries: Registries, spec: DatasetSpec) -> list[_ClassPlan]:
    check_name(spec.name, "name")
    _int_in(spec.length, "length", 2, MAX_LENGTH)
    _int_in(spec.n_channels, "n_channels", 1, MAX_CHANNELS)
    _int_in(spec.seed, "seed", 0, 2**63 - 1)
    engines = available_engines(registries)
    if spec.engine not in engines:
        raise BadInputError("engine", f"got {str(spec.engine)[:80]!r}",
                            allowed=", ".join(engines))
    _check_sampling(spec.sampling)
    if not isinstance(spec.classes, list) or not spec.classes:
        raise BadInputError("classes", "is empty", allowed="at least one class")
    if len(spec.classes) > MAX_CLASSES:
        raise BadInputError("classes", f"has {len(spec.classes)} classes",
                            allowed=f"at most {MAX_CLASSES}")
    seen: dict[str, int] = {}
    plans = []
    for i, cls in enumerate(spec.classes):
        path = f"classes[{i}]"
        if not isinstance(cls.label, str) or not cls.label.strip():
            raise BadInputError(f"{path}.label", f"got {cls.label!r}", allowed="a non-empty string")
        if cls.label in seen:
            raise BadInputError(f"{path}.label", f"{cls.label!r} is also the label of "
                                f"classes[{seen[cls.label]}]", allowed="unique labels")
        seen[cls.label] = i
        _int_in(cls.count, f"{path}.count", 1, 100_000_000)
        if cls.transform not in TRANSFORMS:
            raise BadInputError(f"{path}.transform", f"got {cls.transform!r}",
                                allowed=", ".join(TRANSFORMS))
        channels: list[tuple[_Component, _Component | None]] = []
        if cls.channels is not None:
            if cls.signal is not None or cls.noise is not None:
                raise BadInputError(f"{path}.channels", "given together with signal/noise",
                                    allowed="either channels or signal (+ noise)")
            if len(cls.channels) != spec.n_channels:
                raise BadInputError(f"{path}.channels", f"has {len(cls.channels)} entries",
                                    allowed=f"one per channel (n_channels = {spec.n_channels})")
            for c, ch in enumerate(cls.channels):
                sig = _component(registries, ch.signal, f"{path}.channels[{c}].signal",
                                 "signal", spec.engine)
                noise = None if ch.noise is None else _component(
                    registries, ch.noise, f"{path}.channels[{c}].noise", "noise", spec.engine)
                channels.append((sig, noise))
        else:
            if cls.signal is None:
                raise BadInputError(f"{path}.signal", "is required",
                                    allowed="a signal spec, or channels with one spec each")
            sig = _component(registries, cls.signal, f"{path}.signal", "signal", spec.engine)
            noise = None if cls.noise is None else _component(
                registries, cls.noise, f"{path}.noise", "noise", spec.engine)
            channels = [(sig, noise)] * spec.n_channels
        plans.append(_ClassPlan(cls.label, cls.count, channels, cls.transform))
    return plans


def validate_spec(registries: Registries, spec: DatasetSpec | Mapping[str, Any],
                  *, max_values: int | None = None) -> DatasetSpec:
    """Check a spec completely without generating anything (the API answers 422 from here
    before it accepts a job). Returns the spec as a ``DatasetSpec``."""
    if isinstance(spec, Mapping):
        spec = from_builtins(dict(spec), DatasetSpec)
    if not isinstance(spec, DatasetSpec):
        raise BadInputError("spec", f"got {type(spec).__name__}", allowed="a DatasetSpec")
    plans = _plan(registries, spec)
    _check_size(spec, plans, max_values)
    return spec


def _check_size(spec: DatasetSpec, plans: list[_ClassPlan], max_values: int | None) -> None:
    if max_values is not None:
        check_volume(sum(p.count for p in plans), spec.n_channels, spec.length, max_values,
                     "dataset values (series x channels x length)")


# ----------------------------------------------------------------------------- generation


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def regular_times(length: int, start: float = 0.0, step: float = 1.0) -> np.ndarray:
    return start + step * np.arange(length, dtype=np.float64)


def irregular_times(n: int, length: int, *, start: float = 0.0, step: float = 1.0,
                    keep: float = 0.5, rng: np.random.Generator) -> np.ndarray:
    """(n, length) sorted times: each series keeps ``length`` of the ``ceil(length / keep)``
    points of the regular grid ``start + step * k``, chosen uniformly without replacement
    (TimeSynth's ``keep_percentage``, per series)."""
    fine = max(length, math.ceil(length / keep - 1e-9))
    if fine == length:
        return np.broadcast_to(regular_times(length, start, step), (n, length)).copy()
    chosen = np.argpartition(rng.random((n, fine)), length - 1, axis=1)[:, :length]
    chosen.sort(axis=1)
    return start + step * chosen.astype(np.float64)


def time_grid(sampling: SamplingSpec, n: int, length: int,
              rng: np.random.Generator) -> np.ndarray:
    """(length,) for regular sampling, (n, length) per series for irregular sampling."""
    if sampling.kind == "regular":
        return regular_times(length, sampling.start, sampling.step)
    return irregular_times(n, length, start=sampling.start, step=sampling.step,
                           keep=sampling.keep, rng=rng)


def _transform(x: np.ndarray, how: str) -> np.ndarray:
    if how == "half_shift":
        return (x + 1.0) * 0.5
    if how == "minmax01":
        low = x.min(axis=-1, keepdims=True)
        span = x.max(axis=-1, keepdims=True) - low
        return np.divide(x - low, span, out=np.zeros_like(x, dtype=np.float64), where=span > 0)
    return x


def _component_values(comp: _Component, n: int, times: np.ndarray,
                      rng: np.random.Generator, field: str) -> np.ndarray:
    out = np.asarray(comp.generate(n, times, comp.params, rng))
    if out.shape != (n, times.shape[-1]):
        raise BadInputError(field, f"generator {comp.name!r} returned shape {out.shape}",
                            allowed=f"({n}, {times.shape[-1]})")
    return out


def build_dataset(registries: Registries, spec: DatasetSpec,
                  progress: Progress | None = None, *,
                  max_values: int | None = None) -> Dataset:
    """Generate the dataset a spec describes; ``progress(done_series, total_series)`` is called
    after each chunk. Nothing is generated unless the whole spec is valid."""
    if isinstance(spec, Mapping):
        spec = from_builtins(dict(spec), DatasetSpec)
    plans = _plan(registries, spec)
    _check_size(spec, plans, max_values)
    total = sum(p.count for p in plans)
    length, n_channels = spec.length, spec.n_channels
    values = np.empty((total, n_channels, length), dtype=np.float32)
    labels = np.empty(total, dtype=np.int64)
    irregular = spec.sampling.kind == "irregular"
    times_all = np.empty((total, length)) if irregular else None
    if progress:
        progress(0, total)
    row = 0
    for ci, plan in enumerate(plans):
        labels[row:row + plan.count] = ci
        for chunk, start in enumerate(range(0, plan.count, CHUNK)):
            m = min(CHUNK, plan.count - start)
            rows = slice(row + start, row + start + m)
            times = time_grid(spec.sampling, m, length, _rng(spec.seed, ci, chunk, 0, ROLE_TIMES))
            if times_all is not None:
                times_all[rows] = times
            for ch, (sig, noise) in enumerate(plan.channels):
                path = f"classes[{ci}]"
                x = _component_values(sig, m, times, _rng(spec.seed, ci, chunk, ch, ROLE_SIGNAL),
                                      f"{path}.signal")
                if noise is not None:
                    x = x + _component_values(noise, m, times,
                                              _rng(spec.seed, ci, chunk, ch, ROLE_NOISE),
                                              f"{path}.noise")
                values[rows, ch] = _transform(x, plan.transform)
            if progress:
                progress(row + start + m, total)
        row += plan.count
    generators = sorted({c.name for p in plans for pair in p.channels for c in pair if c})
    axis = TimeAxis(kind=spec.sampling.kind, start=float(spec.sampling.start),
                    step=float(spec.sampling.step))
    return Dataset.build(
        spec.name, values, labels, [p.label for p in plans], times_all, time_axis=axis,
        source="generated", spec=to_builtins(spec), generators=generators,
        tags=list(spec.tags), description=spec.description,
    )


def preview(registries: Registries, signal: ComponentSpec, noise: ComponentSpec | None, *,
            n: int, length: int, sampling: SamplingSpec, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A few series of one signal (+ noise) for a form's live plot: times (length,) or
    (n, length) for irregular sampling, and values (n, length)."""
    _int_in(n, "n", 1, 10_000)
    _int_in(length, "length", 2, 1_000_000)
    _int_in(seed, "seed", 0, 2**63 - 1)
    _check_sampling(sampling)
    sig = _component(registries, signal, "signal", "signal", "vectorised")
    noi = None if noise is None else _component(registries, noise, "noise", "noise", "vectorised")
    times = time_grid(sampling, n, length, _rng(seed, 0, 0, 0, ROLE_TIMES))
    x = _component_values(sig, n, times, _rng(seed, 0, 0, 0, ROLE_SIGNAL), "signal")
    if noi is not None:
        x = x + _component_values(noi, n, times, _rng(seed, 0, 0, 0, ROLE_NOISE), "noise")
    return times, np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------- specs


def resolve_preset(registries: Registries, name: str, /, **overrides: Any) -> DatasetSpec:
    """A preset's spec with overrides (``name`` of the dataset, ``seed``, ``count`` per class,
    ``length``, ``engine``); None values are ignored. The preset name is positional-only so
    ``name=`` can rename the dataset."""
    preset = registries.presets.require(name, "preset")
    return preset.spec(**{k: v for k, v in overrides.items() if v is not None})


def with_overrides(spec: DatasetSpec, *, name: str | None = None, seed: int | None = None,
                   count: int | None = None, length: int | None = None,
                   engine: str | None = None) -> DatasetSpec:
    """The spec with the CLI's overrides applied (``count`` sets every class)."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if seed is not None:
        changes["seed"] = seed
    if length is not None:
        changes["length"] = length
    if engine is not None:
        changes["engine"] = engine
    if count is not None:
        changes["classes"] = [msgspec.structs.replace(c, count=count) for c in spec.classes]
    return msgspec.structs.replace(spec, **changes)


def load_spec_file(path: str | Path) -> DatasetSpec:
    """Read a dataset spec from a TOML or JSON file; errors name the file and the field."""
    p = Path(path)
    if p.suffix.lower() not in (".toml", ".json"):
        raise BadInputError("spec", f"{p} has suffix {p.suffix!r}", allowed=".toml or .json")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError("spec", f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError("spec", f"{p} is not valid {p.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise BadInputError("spec", f"{p} holds a {type(data).__name__}", allowed="a table/object")
    return from_builtins(data, DatasetSpec)
