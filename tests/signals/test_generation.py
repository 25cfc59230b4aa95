"""build_dataset and preview: validation before generation, reproducibility, labels, time axes,
channels, engines and limits."""

from __future__ import annotations

import numpy as np
import pytest

from synthts_core.domain import (
    ChannelSpec,
    ClassSpec,
    ComponentSpec,
    DatasetSpec,
    SamplingSpec,
    from_builtins,
)
from synthts_core.errors import BadInputError, LimitExceededError
from synthts_core.services.generation import build_dataset, preview, validate_spec


def sine(freq: float = 1.0, **extra) -> ComponentSpec:
    return ComponentSpec("sinusoidal", {"frequency": freq, **extra})


def noise(std: float = 0.1) -> ComponentSpec:
    return ComponentSpec("gaussian_noise", {"std": std})


def spec(**changes) -> DatasetSpec:
    base = {
        "name": "test-set", "length": 32, "seed": 3,
        "classes": [ClassSpec("a", 5, sine(1.0), noise()),
                    ClassSpec("b", 4, ComponentSpec("autoregressive", {"ar_param": [0.5]})),
                    ClassSpec("c", 3, ComponentSpec("gaussian_process", {"kernel": "RQ"}),
                              noise())],
        "sampling": SamplingSpec(step=0.1),
    }
    base.update(changes)
    return DatasetSpec(**base)


def test_same_spec_and_seed_give_bit_identical_values(registries) -> None:
    a, b = build_dataset(registries, spec()), build_dataset(registries, spec())
    assert a.values.tobytes() == b.values.tobytes()
    assert a.meta.checksum == b.meta.checksum
    c = build_dataset(registries, spec(seed=4))
    assert not np.array_equal(a.values, c.values)


def test_labels_names_and_meta(registries) -> None:
    ds = build_dataset(registries, spec())
    assert ds.values.shape == (12, 1, 32) and ds.values.dtype == np.float32
    assert ds.labels.tolist() == [0] * 5 + [1] * 4 + [2] * 3
    assert ds.meta.label_names == ["a", "b", "c"] and ds.meta.label_counts == [5, 4, 3]
    assert ds.meta.generators == ["autoregressive", "gaussian_noise", "gaussian_process",
                                  "sinusoidal"]
    assert ds.meta.source == "generated" and ds.meta.time_axis.step == 0.1
    assert ds.times is None
    # the stored spec regenerates the same values
    again = build_dataset(registries, from_builtins(ds.meta.spec, DatasetSpec))
    assert again.meta.checksum == ds.meta.checksum


def test_a_class_keeps_its_values_when_other_classes_change(registries) -> None:
    full = build_dataset(registries, spec())
    first_only = build_dataset(registries, spec(classes=spec().classes[:1]))
    np.testing.assert_array_equal(full.values[:5], first_only.values)


def test_series_differ_within_a_class_and_channels_are_independent(registries) -> None:
    ds = build_dataset(registries, spec(n_channels=3, classes=[
        ClassSpec("ar", 6, ComponentSpec("autoregressive", {"ar_param": [0.5]}))]))
    x = ds.values
    assert not np.allclose(x[0, 0], x[1, 0])
    assert not np.allclose(x[0, 0], x[0, 1])


def test_per_channel_specs(registries) -> None:
    ds = build_dataset(registries, spec(n_channels=2, classes=[ClassSpec("mix", 3, channels=[
        ChannelSpec(sine(2.0, amplitude=3.0)),
        ChannelSpec(ComponentSpec("car", {}), noise(0.5)),
    ])]))
    times = 0.1 * np.arange(32)
    expected = (3.0 * np.sin(2 * np.pi * 2.0 * times)).astype(np.float32)
    np.testing.assert_allclose(ds.values[:, 0], np.tile(expected, (3, 1)), atol=1e-6)
    assert not np.allclose(ds.values[0, 1], ds.values[1, 1])


def test_irregular_sampling_keeps_a_fraction_of_a_finer_grid(registries) -> None:
    ds = build_dataset(registries, spec(sampling=SamplingSpec(kind="irregular", step=0.5,
                                                              keep=0.4)))
    assert ds.times.shape == (12, 32) and ds.meta.time_axis.kind == "irregular"
    assert (np.diff(ds.times, axis=1) > 0).all()
    steps = ds.times / 0.5
    np.testing.assert_allclose(steps, np.round(steps))
    assert ds.times.max() < 0.5 * np.ceil(32 / 0.4)
    assert len({tuple(t) for t in ds.times}) > 1


def test_transforms(registries) -> None:
    half = build_dataset(registries, spec(classes=[ClassSpec("s", 4, sine(1.0),
                                                             transform="half_shift")]))
    assert half.values.min() >= 0.0 and half.values.max() <= 1.0 + 1e-6
    mm = build_dataset(registries, spec(classes=[ClassSpec(
        "g", 4, ComponentSpec("autoregressive", {}), transform="minmax01")]))
    np.testing.assert_allclose(mm.values.min(axis=-1), 0.0)
    np.testing.assert_allclose(mm.values.max(axis=-1), 1.0)


@pytest.mark.parametrize("changes, field", [
    ({"classes": [ClassSpec("a", 2, sine()), ClassSpec("b", 2, sine()),
                  ClassSpec("c", 2, sine(-1.0))]}, "classes[2].signal.params.frequency"),
    ({"classes": [ClassSpec("a", 2, ComponentSpec("no_such", {}))]}, "classes[0].signal.generator"),
    ({"classes": [ClassSpec("a", 2, noise())]}, "classes[0].signal.generator"),
    ({"classes": [ClassSpec("a", 2, sine(), sine())]}, "classes[0].noise.generator"),
    ({"classes": [ClassSpec("a", 2, sine(), ComponentSpec("red_noise", {"tau": 0}))]},
     "classes[0].noise.params.tau"),
    ({"classes": [ClassSpec("a", 2, ComponentSpec("autoregressive", {"ar_param": [1.1]}))]},
     "classes[0].signal.params.ar_param"),
    ({"classes": [ClassSpec("a", 2, ComponentSpec("sinusoidal", {"speed": 1}))]},
     "classes[0].signal.params.speed"),
    ({"classes": [ClassSpec("a", 2, sine()), ClassSpec("a", 2, sine())]}, "classes[1].label"),
    ({"classes": [ClassSpec("a", 0, sine())]}, "classes[0].count"),
    ({"classes": [ClassSpec("a", 2)]}, "classes[0].signal"),
    ({"classes": [ClassSpec("a", 2, transform="log")]}, "classes[0].transform"),
    ({"n_channels": 2, "classes": [ClassSpec("a", 2, channels=[ChannelSpec(sine())])]},
     "classes[0].channels"),
    ({"n_channels": 2, "classes": [ClassSpec("a", 2, channels=[
        ChannelSpec(sine()), ChannelSpec(sine(), ComponentSpec("car", {}))])]},
     "classes[0].channels[1].noise.generator"),
    ({"classes": []}, "classes"),
    ({"name": "bad name!"}, "name"),
    ({"length": 1}, "length"),
    ({"seed": -1}, "seed"),
    ({"engine": "fast"}, "engine"),
    ({"sampling": SamplingSpec(step=0.0)}, "sampling.step"),
    ({"sampling": SamplingSpec(kind="irregular", keep=1.5)}, "sampling.keep"),
    ({"engine": "timesynth", "classes": [ClassSpec("a", 2, sine(1.0, phase=0.5))]},
     "classes[0].signal.params.phase"),
    ({"engine": "timesynth", "classes": [ClassSpec("a", 2, ComponentSpec(
        "random_sinusoidal", {}))]}, "classes[0].signal.generator"),
])
def test_every_error_names_its_field_and_nothing_is_generated(changes, field, registries):
    calls = []
    with pytest.raises(BadInputError) as info:
        build_dataset(registries, spec(**changes), progress=lambda d, t: calls.append(d))
    assert info.value.field == field, str(info.value)
    assert calls == []
    with pytest.raises(BadInputError):
        validate_spec(registries, spec(**changes))


def test_spec_from_builtins_names_the_bad_field(registries) -> None:
    data = {"name": "x", "length": 8, "classes": [{"label": "a", "count": "many"}]}
    with pytest.raises(BadInputError) as info:
        validate_spec(registries, data)
    assert info.value.field == "classes[0].count"


def test_size_limit(registries) -> None:
    with pytest.raises(LimitExceededError, match="SYNTHTS_MAX_GENERATE_VALUES"):
        build_dataset(registries, spec(), max_values=100)


def test_progress_reaches_the_total(registries) -> None:
    seen = []
    build_dataset(registries, spec(), progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 12) and seen[-1] == (12, 12)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_timesynth_engine_builds_a_dataset(registries, one_blas_thread) -> None:
    s = spec(engine="timesynth", classes=[
        ClassSpec("car", 3, ComponentSpec("car", {}), ComponentSpec("red_noise", {})),
        ClassSpec("narma", 3, ComponentSpec("narma", {"order": 3, "saturation": "none"}))])
    a, b = build_dataset(registries, s), build_dataset(registries, s)
    assert a.values.shape == (6, 1, 32) and np.isfinite(a.values).all()
    assert a.meta.checksum == b.meta.checksum
    assert not np.allclose(a.values[3], a.values[4])


def test_preview(registries) -> None:
    times, values = preview(registries, sine(2.0), noise(0.0), n=3, length=50,
                            sampling=SamplingSpec(step=0.02), seed=0)
    assert times.shape == (50,) and values.shape == (3, 50)
    np.testing.assert_allclose(values[0], np.sin(2 * np.pi * 2.0 * times), atol=1e-6)
    t_irr, v_irr = preview(registries, ComponentSpec("car", {}), None, n=4, length=20,
                           sampling=SamplingSpec(kind="irregular", keep=0.5), seed=1)
    assert t_irr.shape == (4, 20) and v_irr.shape == (4, 20)
    with pytest.raises(BadInputError) as info:
        preview(registries, ComponentSpec("car", {"ar_param": 2.0}), None, n=2, length=10,
                sampling=SamplingSpec(), seed=0)
    assert info.value.field == "signal.params.ar_param"
