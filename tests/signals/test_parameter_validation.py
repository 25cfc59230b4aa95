"""Parameters that are undefined or explosive are rejected with the parameter's name."""

from __future__ import annotations

import numpy as np
import pytest

from synthts_core.errors import BadInputError
from synthts_core.schema import validate_params


@pytest.mark.parametrize("name, params, field", [
    ("gaussian_process", {"lengthscale": 0.0}, "lengthscale"),
    ("gaussian_process", {"lengthscale": -1.0}, "lengthscale"),
    ("gaussian_process", {"kernel": "RQ", "alpha": 0.0}, "alpha"),
    ("gaussian_process", {"kernel": "Periodic", "p": 0.0}, "p"),
    ("gaussian_process", {"kernel": "Matern", "nu": 0.0}, "nu"),
    ("gaussian_process", {"kernel": "Exponential", "gamma": 2.5}, "gamma"),
    ("gaussian_process", {"variance": 0.0}, "variance"),
    ("gaussian_process", {"kernel": "Linear", "offset": -1.0}, "offset"),
    ("gaussian_process", {"kernel": "Cosine"}, "kernel"),
    ("autoregressive", {"ar_param": [1.0]}, "ar_param"),
    ("autoregressive", {"ar_param": [-1.2]}, "ar_param"),
    ("autoregressive", {"ar_param": [0.6, 0.5]}, "ar_param"),  # root 1.07
    ("autoregressive", {"ar_param": [0.1, 0.2, 0.3, 0.45]}, "ar_param"),  # sum > 1
    ("autoregressive", {"ar_param": []}, "ar_param"),
    ("autoregressive", {"sigma": -0.1}, "sigma"),
    ("car", {"ar_param": 1.0}, "ar_param"),
    ("car", {"ar_param": 1.5}, "ar_param"),
    ("car", {"ar_param": 0.0}, "ar_param"),
    ("narma", {"coefficients": [1.0, 0.05, 1.5, 0.1]}, "coefficients"),
    ("narma", {"coefficients": [0.3, 0.05]}, "coefficients"),
    ("narma", {"order": 0}, "order"),
    ("red_noise", {"tau": 0.0}, "tau"),
    ("gaussian_noise", {"std": -1.0}, "std"),
    ("mackey_glass", {"tau": 0.0}, "tau"),
    ("mackey_glass", {"history_low": 2.0, "history_high": 1.0}, "history_low"),
    ("random_sinusoidal", {"frequency_low": 0.5, "frequency_high": 0.1}, "frequency_low"),
    ("sinusoidal", {"frequency": float("nan")}, "frequency"),
    ("sinusoidal", {"frequency": "fast"}, "frequency"),
])
def test_bad_parameter_is_named_with_its_range(name, params, field, generators) -> None:
    with pytest.raises(BadInputError) as info:
        validate_params(generators[name], params)
    assert info.value.field == field
    assert info.value.allowed, "the error says what would be accepted"


@pytest.mark.parametrize("coefficients", [[0.5], [-0.9], [0.5, 0.3], [1.5, -0.56], [0.3, -0.2, 0.4]])
def test_stationary_coefficients_are_accepted(coefficients, generators) -> None:
    roots = np.roots([1.0, *(-c for c in coefficients)])
    assert np.abs(roots).max() < 1.0  # the test's own premise
    validate_params(generators["autoregressive"], {"ar_param": coefficients})


def test_non_stationary_message_gives_the_root(generators) -> None:
    with pytest.raises(BadInputError, match=r"modulus 1\b") as info:
        validate_params(generators["autoregressive"], {"ar_param": [0.5, 0.5]})
    assert "unit circle" in str(info.value)


def test_diverging_plain_narma_is_an_error_not_infinities(generators) -> None:
    gen = generators["narma"]
    params = validate_params(gen, {"order": 20, "saturation": "none"})
    with pytest.raises(BadInputError, match="saturation"):
        gen.generate(50, np.arange(500.0), params, np.random.default_rng(0))
    tanh = validate_params(gen, {"order": 20})
    assert np.isfinite(gen.generate(50, np.arange(500.0), tanh, np.random.default_rng(0))).all()


def test_diversity_of_narma_and_mackey_glass(generators) -> None:
    for name, raw in (("narma", {}), ("mackey_glass", {"burn_in": 100.0})):
        gen = generators[name]
        out = gen.generate(6, np.arange(100.0), validate_params(gen, raw),
                           np.random.default_rng(0))
        distinct = {tuple(np.round(row, 6)) for row in out}
        assert len(distinct) == 6, name


def test_mackey_glass_matches_jitcdde_trajectory_from_the_same_history(generators) -> None:
    """Same constant history, no burn-in: our RK4 follows timesynth's adaptive jitcdde
    integrator to 1e-3 over 100 time units (before chaos separates them)."""
    import warnings

    import timesynth as ts
    from timesynth.signals import MackeyGlass

    gen = generators["mackey_glass"]
    params = validate_params(gen, {"burn_in": 0.0, "history_low": 0.9, "history_high": 0.9})
    times = np.arange(1.0, 100.0)
    ours = gen.generate(1, times, params, np.random.default_rng(0))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MackeyGlass(initial_condition=[(0.0, 0.9, 0.0), (17.0, 0.9, 0.0)], burn_in=17.0)
        theirs = ts.TimeSeries(ref).sample(times)[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-3)
