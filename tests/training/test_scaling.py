"""The data scalings a model family may declare: each maps a training set per channel and maps
generated values back; an unknown one is refused by name."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from synthts_core.normalisation import apply_scaling as _apply
from synthts_core.services.training_trial import training_normalisation


def _values() -> np.ndarray:
    rng = np.random.default_rng(0)
    scale, offset = np.array([3.0, 0.5])[:, None], np.array([10.0, -2.0])[:, None]
    return (rng.normal(size=(40, 2, 16)) * scale + offset).astype(np.float32)


@pytest.mark.parametrize(("scaling", "check"), [
    ("minmax", lambda x: np.allclose(x.min(axis=(0, 2)), -1, atol=1e-5)
     and np.allclose(x.max(axis=(0, 2)), 1, atol=1e-5)),
    ("standard", lambda x: np.allclose(x.mean(axis=(0, 2)), 0, atol=1e-5)
     and np.allclose(x.std(axis=(0, 2)), 1, atol=1e-4)),
])
def test_a_declared_scaling_maps_each_channel_and_back(scaling, check) -> None:
    values = _values()
    norm = training_normalisation(SimpleNamespace(name="a", scaling=scaling), values)
    assert norm["method"] == scaling
    scaled = _apply(values, norm)
    assert check(scaled)
    np.testing.assert_allclose(_apply(scaled, norm, inverse=True), values, rtol=1e-5, atol=1e-4)


def test_an_undeclared_scaling_defaults_to_minmax_and_an_unknown_one_is_refused() -> None:
    assert training_normalisation(SimpleNamespace(name="a"), _values())["method"] == "minmax"
    with pytest.raises(ValueError, match="declares scaling 'robust'"):
        training_normalisation(SimpleNamespace(name="a", scaling="robust"), _values())
