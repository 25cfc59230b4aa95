"""Conformance suite for signal generators (``register_signal_generators``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from synthts_core.errors import BadInputError
from synthts_core.schema import Param, ParamSchema, validate_params


def _outside_value(p: Param) -> Any | None:
    """A value just outside the declared range, or None if the parameter is unbounded."""
    if p.kind in ("float", "int"):
        if p.low is not None:
            return p.low - 1 if p.kind == "int" or not p.low_exclusive else p.low
        if p.high is not None:
            return p.high + 1 if p.kind == "int" or not p.high_exclusive else p.high
    if p.kind == "choice":
        return "__not_a_choice__"
    return None


class SignalGeneratorConformance:
    """Provide a ``generator`` fixture; optionally override ``params`` with cheap parameters."""

    n = 8
    length = 64

    @pytest.fixture
    def params(self, generator) -> dict[str, Any]:
        return generator.schema.defaults()

    def _make(self, generator, params, seed: int, times=None) -> np.ndarray:
        if times is None:
            times = np.arange(self.length, dtype=np.float64)
        checked = validate_params(generator, params)
        return np.asarray(generator.generate(self.n, times, checked, np.random.default_rng(seed)))

    def test_declares_itself(self, generator) -> None:
        assert isinstance(generator.name, str) and generator.name
        assert generator.kind in ("signal", "noise")
        assert isinstance(generator.schema, ParamSchema)
        assert isinstance(generator.description, str) and generator.description
        for p in generator.schema:
            assert p.help, f"parameter {p.name!r} needs help text"
        validate_params(generator, generator.schema.defaults())

    def test_shape_dtype_and_finite(self, generator, params) -> None:
        out = self._make(generator, params, 0)
        assert out.shape == (self.n, self.length)
        assert np.issubdtype(out.dtype, np.floating)
        assert np.isfinite(out).all()

    def test_same_seed_same_values(self, generator, params) -> None:
        np.testing.assert_array_equal(self._make(generator, params, 7),
                                      self._make(generator, params, 7))

    def test_random_series_differ(self, generator, params) -> None:
        if not getattr(generator, "random", True):
            pytest.skip("deterministic generator")
        out = self._make(generator, params, 3)
        assert not np.allclose(out[0], out[1]), "two series in one batch are identical"
        assert not np.array_equal(out, self._make(generator, params, 4))

    def test_per_series_times(self, generator, params) -> None:
        rng = np.random.default_rng(0)
        times = np.sort(rng.uniform(0, self.length, size=(self.n, self.length)), axis=1)
        out = self._make(generator, params, 0, times=times)
        assert out.shape == (self.n, self.length)
        assert np.isfinite(out).all()

    def test_out_of_range_parameters_are_rejected_by_name(self, generator) -> None:
        for p in generator.schema:
            bad = _outside_value(p)
            if bad is None:
                continue
            values = generator.schema.defaults()
            values[p.name] = bad
            with pytest.raises(BadInputError) as info:
                validate_params(generator, values)
            assert p.name in str(info.value)

    def test_unknown_parameter_is_rejected(self, generator) -> None:
        with pytest.raises(BadInputError, match="no_such_parameter"):
            validate_params(generator, {"no_such_parameter": 1})
