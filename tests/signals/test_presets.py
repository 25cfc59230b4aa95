"""The harmonics10 and sines presets, their overrides and the example spec files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthts_core.errors import BadInputError
from synthts_core.services.generation import (
    build_dataset,
    load_spec_file,
    resolve_preset,
    with_overrides,
)

SPECS = Path(__file__).resolve().parents[2] / "examples" / "specs"


def test_harmonics10_matches_the_seed_training_set(registries) -> None:
    full = resolve_preset(registries, "harmonics10")
    assert [c.count for c in full.classes] == [1000] * 10 and full.length == 1024
    ds = build_dataset(registries, resolve_preset(registries, "harmonics10", count=20))
    assert ds.values.shape == (200, 1, 1024)
    assert ds.meta.label_names == [f"{f}Hz" for f in range(1, 11)]
    grid = ds.time_grid()
    assert grid[0] == 0.0 and grid[-1] == pytest.approx(1.0)
    for label, f in enumerate(range(1, 11)):
        x = ds.values[ds.labels == label, 0]
        spectrum = np.abs(np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)).mean(axis=0)
        assert int(np.argmax(spectrum)) == f  # f cycles over the series: resolved
        clean = 2.0 * np.sin(2 * np.pi * f * grid)
        residual = x - clean
        assert residual.std() == pytest.approx(0.2, rel=0.05)  # noise std 0.2
        assert abs(residual.mean()) < 0.01


def test_sines_is_the_timegan_benchmark(registries) -> None:
    s = resolve_preset(registries, "sines")
    assert (s.classes[0].count, s.n_channels, s.length) == (10_000, 5, 24)
    ds = build_dataset(registries, resolve_preset(registries, "sines", count=400))
    x = ds.values
    assert x.shape == (400, 5, 24) and x.min() >= 0.0 and x.max() <= 1.0
    # x = (sin(w t + phase) + 1) / 2 with w, phase in [0, 0.1]: recover w and phase
    phase = np.arcsin(2.0 * x[:, :, 0].astype(np.float64) - 1.0)
    w = np.arcsin(2.0 * x[:, :, 1].astype(np.float64) - 1.0) - phase
    assert phase.min() >= -1e-3 and phase.max() <= 0.1 + 1e-3
    assert w.min() >= -1e-3 and w.max() <= 0.1 + 1e-3
    assert np.std(w[:, 0]) > 0.02 and not np.allclose(w[:, 0], w[:, 1])  # per series and channel


def test_overrides(registries) -> None:
    s = resolve_preset(registries, "harmonics10", name="h5", seed=9, count=3, length=256)
    assert s.name == "h5" and s.seed == 9 and s.length == 256
    assert s.sampling.step == pytest.approx(1 / 255)
    assert {c.count for c in s.classes} == {3}
    with pytest.raises(BadInputError) as info:
        resolve_preset(registries, "harmonics10", colour="red")
    assert info.value.field == "colour"
    with pytest.raises(BadInputError) as info:
        resolve_preset(registries, "harmonics10", count=0)
    assert info.value.field == "count"
    with pytest.raises(BadInputError) as info:
        resolve_preset(registries, "no-such-preset")
    assert info.value.field == "preset"


@pytest.mark.parametrize("name", ["harmonics10", "sines"])
def test_example_spec_files_equal_the_presets(name, registries) -> None:
    from_file = with_overrides(load_spec_file(SPECS / f"{name}.toml"), count=5)
    from_preset = resolve_preset(registries, name, count=5)
    assert build_dataset(registries, from_file).meta.checksum == \
        build_dataset(registries, from_preset).meta.checksum


def test_spec_files_json_and_errors(tmp_path, registries) -> None:
    import json

    from synthts_core.domain import to_builtins

    path = tmp_path / "s.json"
    path.write_text(json.dumps(to_builtins(resolve_preset(registries, "sines", count=2))))
    assert load_spec_file(path).classes[0].count == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nlength = 8\n[[classes]]\nlabel = "a"\ncount = "lots"\n')
    with pytest.raises(BadInputError) as info:
        load_spec_file(bad)
    assert info.value.field == "classes[0].count"
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ")
    with pytest.raises(BadInputError, match="not valid TOML"):
        load_spec_file(broken)
    with pytest.raises(BadInputError, match=r"allowed: \.toml or \.json"):
        load_spec_file(tmp_path / "spec.yaml")
    with pytest.raises(BadInputError, match="cannot read"):
        load_spec_file(tmp_path / "missing.toml")
