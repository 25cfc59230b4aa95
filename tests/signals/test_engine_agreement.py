"""The vectorised engine and timesynth 0.2.4 agree in distribution on every signal timesynth
can run.

Statistics are computed per series (series are independent; points within one are not):
the series mean, the mean squared deviation from the pooled mean, and the autocorrelation at
lags 1, 3 and 6 about the pooled mean and variance. The two engines' averages of each must
differ by at most ``K_SE`` standard errors of that difference (plus a 1e-6 floor for
deterministic statistics). The power check below shows the same test catches a real
difference in parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthts_core.schema import validate_params

K_SE = 5.0
LAGS = (1, 3, 6)

KERNELS = ("Constant", "Exponential", "SE", "RQ", "Linear", "Matern", "Periodic")
# (id, generator, params, n series, length, irregular times)
CASES = [
    ("pseudo_periodic", "pseudo_periodic", {"frequency": 0.3, "frequency_sd": 0.01}, 200, 64, False),
    ("ar1", "autoregressive", {"ar_param": [0.6]}, 200, 64, False),
    ("ar3", "autoregressive", {"ar_param": [0.3, -0.2, 0.4], "burn_in": 20}, 200, 64, False),
    ("car", "car", {"ar_param": 0.7, "sigma": 1.0}, 200, 64, False),
    ("car-irregular", "car", {"ar_param": 0.7, "sigma": 1.0}, 200, 64, True),
    ("narma5", "narma", {"order": 5, "saturation": "none"}, 200, 64, False),
    ("gaussian_noise", "gaussian_noise", {"mean": 0.5, "std": 2.0}, 200, 64, False),
    ("red_noise", "red_noise", {"tau": 2.0}, 200, 64, False),
    ("red_noise-irregular", "red_noise", {"tau": 2.0}, 200, 64, True),
    *[(f"gp-{k}", "gaussian_process",
       {"kernel": k, "lengthscale": 4.0 if k != "Periodic" else 1.0, "p": 10.0, "offset": 0.5,
        "c": 10.0, "mean": 1.0}, 160, 32, False) for k in KERNELS],
    ("gp-SE-irregular", "gaussian_process", {"kernel": "SE", "lengthscale": 4.0}, 120, 32, True),
    ("mackey_glass", "mackey_glass", {"burn_in": 100.0}, 8, 200, False),
]


def per_series_stats(x: np.ndarray, centre: float, scale: float) -> dict[str, np.ndarray]:
    dev = x - centre
    stats = {"mean": x.mean(axis=1), "variance": (dev**2).mean(axis=1)}
    for lag in LAGS:
        stats[f"acf{lag}"] = (dev[:, :-lag] * dev[:, lag:]).mean(axis=1) / scale
    return stats


def assert_agree(a: np.ndarray, b: np.ndarray) -> None:
    both = np.concatenate([a, b])
    centre, scale = float(both.mean()), float(both.var()) or 1.0
    sa, sb = per_series_stats(a, centre, scale), per_series_stats(b, centre, scale)
    failures = []
    for key in sa:
        diff = sa[key].mean() - sb[key].mean()
        se = np.sqrt(sa[key].var(ddof=1) / len(a) + sb[key].var(ddof=1) / len(b))
        tol = K_SE * se + 1e-6 * (abs(sa[key].mean()) + 1.0)
        if abs(diff) > tol:
            failures.append(f"{key}: {sa[key].mean():.4g} vs {sb[key].mean():.4g} "
                            f"(|diff| {abs(diff):.3g} > {tol:.3g})")
    assert not failures, "; ".join(failures)


def _times(n: int, length: int, irregular: bool) -> np.ndarray:
    if not irregular:
        return np.arange(length, dtype=np.float64)
    rng = np.random.default_rng(99)
    keep = np.sort(np.argsort(rng.random((n, 2 * length)), axis=1)[:, :length], axis=1)
    return keep.astype(np.float64) * 0.5


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_engines_agree_in_distribution(case, generators, one_blas_thread) -> None:
    _, name, raw, n, length, irregular = case
    gen = generators[name]
    params = validate_params(gen, raw)
    times = _times(n, length, irregular)
    ours = np.asarray(gen.generate(n, times, params, np.random.default_rng(1)), dtype=np.float64)
    theirs = gen.engines["timesynth"].generate(n, times, params, np.random.default_rng(2))
    assert ours.shape == theirs.shape == (n, length)
    assert np.isfinite(theirs).all()
    assert_agree(ours, theirs)


def test_sinusoid_is_identical_on_both_engines(generators) -> None:
    gen = generators["sinusoidal"]
    params = validate_params(gen, {"amplitude": 2.0, "frequency": 3.0})
    times = np.linspace(0.0, 1.0, 200)
    ours = gen.generate(4, times, params, np.random.default_rng(0))
    theirs = gen.engines["timesynth"].generate(4, times, params, np.random.default_rng(0))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_agreement_check_detects_a_different_process(generators) -> None:
    """Power: AR(1) with phi 0.6 against phi 0.75 fails the same check."""
    gen = generators["autoregressive"]
    times = np.arange(64, dtype=np.float64)
    a = gen.generate(200, times, validate_params(gen, {"ar_param": [0.6]}),
                     np.random.default_rng(1))
    b = gen.engines["timesynth"].generate(200, times, validate_params(gen, {"ar_param": [0.75]}),
                                          np.random.default_rng(2))
    with pytest.raises(AssertionError, match=r"acf1|variance"):
        assert_agree(np.asarray(a, dtype=np.float64), b)


@pytest.mark.parametrize("name, raw", [
    ("narma", {"order": 5, "saturation": "none"}),
    ("mackey_glass", {"burn_in": 20.0}),
    ("car", {}),
])
def test_timesynth_engine_is_reproducible_and_diverse(name, raw, generators) -> None:
    gen = generators[name]
    params = validate_params(gen, raw)
    times = np.arange(40, dtype=np.float64)
    engine = gen.engines["timesynth"]
    first = engine.generate(3, times, params, np.random.default_rng(5))
    np.testing.assert_array_equal(first, engine.generate(3, times, params,
                                                         np.random.default_rng(5)))
    assert not np.allclose(first[0], first[1])
    state = np.random.get_state()[1].copy()
    engine.generate(1, times, params, np.random.default_rng(6))
    np.testing.assert_array_equal(state, np.random.get_state()[1])  # global state restored


def test_plain_timesynth_narma_series_are_all_identical() -> None:
    """Why the engine seeds per series: timesynth's own NARMA gives one series over and over."""
    from timesynth.signals import NARMA

    times = np.arange(30, dtype=np.float64)
    np.testing.assert_array_equal(NARMA(order=3).sample_vectorized(times),
                                  NARMA(order=3).sample_vectorized(times))


@pytest.mark.parametrize("name, raw, field", [
    ("sinusoidal", {"phase": 1.0}, "phase"),
    ("narma", {"saturation": "tanh"}, "saturation"),
    ("gaussian_process", {"kernel": "Periodic", "lengthscale": 2.0}, "lengthscale"),
])
def test_what_timesynth_cannot_run_is_declared(name, raw, field, generators) -> None:
    from synthts_core.errors import BadInputError

    gen = generators[name]
    with pytest.raises(BadInputError, match=field):
        gen.engines["timesynth"].check(validate_params(gen, raw))


def test_random_sinusoidal_has_no_timesynth_engine(generators) -> None:
    assert "timesynth" not in generators["random_sinusoidal"].engines
