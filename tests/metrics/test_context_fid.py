"""Context-FID: separates a wrong generator from a second real draw, is reproducible without
touching global torch state, and says when its encoder or the set size cannot vouch for it.

The encoder here is tiny (16 channels, depth 3, 80 steps at a higher learning rate) so each
call takes well under a second; the default settings are measured in docs/metrics.md.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthts_metrics.context_fid import ContextFID, chance_loss, frechet_distance

from synthts_core.testing.conformance.metrics import noise_set, sine_set

SMALL = {"iterations": 80, "hidden": 16, "output_dims": 16, "depth": 3, "lr": 5e-3}


def small() -> ContextFID:
    return ContextFID(**SMALL)


def sines_with_frequency(n: int, low: float, high: float, seed: int) -> np.ndarray:
    """The sines process (2 channels, 24 steps) with the frequency drawn from [low, high]."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(low, high, size=(n, 2, 1))
    phase = rng.uniform(0.0, 0.1, size=(n, 2, 1))
    return ((np.sin(freq * np.arange(24) + phase) + 1.0) / 2.0).astype(np.float32)


def test_a_wrong_generator_scores_far_above_a_second_real_draw():
    real = sine_set(150, 2, 24, 1)
    same = small().compute(real, sine_set(150, 2, 24, 2), np.random.default_rng(0))
    assert same.conclusive and float(same) <= 0.1, same  # 0.006-0.027 over five seeds
    assert same.extra["n_real"] == same.extra["n_synthetic"] == 150
    # uniform noise 6.8-18, frequencies twice too high 2.3-4.4 over five seeds
    for name, bad in (
        ("noise", noise_set(150, 2, 24, 3)),
        ("frequency", sines_with_frequency(150, 0.1, 0.2, 3)),
    ):
        other = small().compute(real, bad, np.random.default_rng(0))
        assert other.conclusive and float(other) >= 1.0, (name, other)


def test_same_seed_same_value_and_global_torch_state_untouched():
    real, fake = sine_set(100, 2, 24, 1), sine_set(100, 2, 24, 2)
    torch.manual_seed(123)
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    metric = ContextFID(**{**SMALL, "iterations": 30})
    first = metric.compute(real, fake, np.random.default_rng(7))
    second = metric.compute(real, fake, np.random.default_rng(7))
    assert float(first) == float(second) and first.extra == second.extra
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads


def test_too_few_series_for_the_covariance_is_inconclusive():
    out = small().compute(sine_set(12, 2, 24, 1), sine_set(40, 2, 24, 2), np.random.default_rng(0))
    assert np.isfinite(float(out))
    assert not out.conclusive and "too few series" in out.inconclusive, out


def test_an_encoder_that_cannot_train_is_inconclusive():
    """A constant real set gives the encoder nothing to contrast: its loss stays at chance,
    and its distance to noise must not be reported as a verdict."""
    constant = np.full((100, 2, 24), 0.5, dtype=np.float32)
    out = small().compute(constant, noise_set(100, 2, 24, 1), np.random.default_rng(0))
    assert not out.conclusive and "did not train" in out.inconclusive, out
    assert out.extra["encoder_loss_vs_chance"] > 0.9


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    b = rng.normal(size=(20000, 3)) * 2.0 + 1.0
    # |mu|^2 = 3; per dimension 1 + 4 - 2 * sqrt(1 * 4) = 1
    value, mean_term = frechet_distance(a, b)
    assert value == pytest.approx(6.0, rel=0.03) and mean_term == pytest.approx(3.0, rel=0.03)
    assert frechet_distance(a, a)[0] == pytest.approx(0.0, abs=1e-9)


def test_chance_loss_is_the_loss_of_a_constant_encoder():
    from synthts_metrics.context_fid import hierarchical_contrastive_loss

    z = torch.ones(4, 10, 3)
    assert float(hierarchical_contrastive_loss(torch, z, z)) == pytest.approx(chance_loss(4, 10))


def test_registered_beside_the_discriminative_score():
    from synthts_metrics.plugin import builtin_metrics

    ordered = sorted(
        (m.report_order, m.name)
        for m in builtin_metrics()
        if getattr(m, "report_order", None) is not None
    )
    names = [name for _, name in ordered]
    assert names[0] == "detector"
    assert names[names.index("discriminative") + 1] == "context_fid"
    fid = next(m for m in builtin_metrics() if m.name == "context_fid")
    assert fid.per_class_by_default is False and fid.higher_is_better is False
