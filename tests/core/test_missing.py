"""Missing points (``synthts_core.missing``): filling for scores, the learnt pattern, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from synthts_core import missing
from synthts_core.errors import BadInputError


def test_fill_interpolates_between_observed_neighbours() -> None:
    x = np.array([[[np.nan, 1.0, np.nan, 3.0, np.nan]],
                  [[np.nan, np.nan, np.nan, np.nan, np.nan]],
                  [[2.0, 2.0, 2.0, 2.0, 2.0]]], np.float32)
    out = missing.fill(x)
    np.testing.assert_array_equal(out[0, 0], [1.0, 1.0, 2.0, 3.0, 3.0])
    # a channel never observed in a series: the channel's mean over the other series
    np.testing.assert_allclose(out[1, 0], np.full(5, np.nanmean(x)))
    np.testing.assert_array_equal(out[2], x[2])
    assert np.isnan(x).sum() == 8, "fill must not write into its input"


def test_comparable_gives_synthetic_series_the_gaps_of_their_class() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(40, 2, 16)).astype(np.float32)
    labels = np.arange(40) % 2
    real[labels == 1, :, :8] = np.nan  # class 1 misses its first half, class 0 nothing
    synthetic = np.full((30, 2, 16), 5.0, np.float32)
    synthetic[:, :, 8:] = 9.0
    syn_labels = np.arange(30) % 2
    r, s = missing.comparable(real, synthetic, np.random.default_rng(1), labels, syn_labels)
    assert np.isfinite(r).all() and np.isfinite(s).all()
    # class 0 kept its values; class 1 lost its first half and took the next observed value
    np.testing.assert_array_equal(s[syn_labels == 0], synthetic[syn_labels == 0])
    assert (s[syn_labels == 1] == 9.0).all()
    np.testing.assert_array_equal(r[labels == 0], real[labels == 0])
    # complete real series: both sides come back as they were
    complete = rng.normal(size=(5, 1, 8)).astype(np.float32)
    a, b = missing.comparable(complete, complete + 1, np.random.default_rng(2))
    assert a is complete and np.array_equal(b, complete + 1)


def test_filling_alike_still_lets_a_detector_see_a_wrong_shape() -> None:
    """The filling must not hide what differs: sines with gaps against noise still fail."""
    from synthts_metrics.detector import Detector

    rng = np.random.default_rng(3)
    t = np.linspace(0, 1, 32)
    real = np.sin(2 * np.pi * 3 * t + rng.uniform(0, 6, (60, 1, 1))).astype(np.float32)
    real[rng.random(real.shape) < 0.2] = np.nan
    noise = rng.normal(0, 0.7, (60, 1, 32)).astype(np.float32)
    r, s = missing.comparable(real, noise, rng)
    assert Detector().compute(r, s, np.random.default_rng(4)) > 0.9


def test_the_learnt_pattern_is_drawn_per_class_and_seed() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=(400, 2, 20)).astype(np.float32)
    labels = np.arange(400) % 2
    values[(labels == 0)[:, None, None] & (rng.random(values.shape) < 0.3)] = np.nan
    values[labels == 1, 1, 15:] = np.nan  # class 1: channel 1 always ends early
    pattern = missing.fit_pattern(values, labels, 2)
    assert pattern is not None and missing.pattern_rates(pattern).shape == (2, 2, 20)
    assert missing.fit_pattern(np.zeros((3, 1, 4)), None, 0) is None
    out = missing.draw_missing(np.zeros((600, 2, 20)), pattern, np.arange(600) % 2,
                               np.random.default_rng(6))
    gaps = np.isnan(out)
    assert abs(gaps[0::2].mean() - 0.3) < 0.02
    assert gaps[1::2, 1, 15:].all() and not gaps[1::2, :, :15].any()
    again = missing.draw_missing(np.zeros((600, 2, 20)), pattern, np.arange(600) % 2,
                                 np.random.default_rng(6))
    np.testing.assert_array_equal(np.isnan(again), gaps)
    assert f"{100 * pattern['rate']:.1f} % of points" in missing.describe_pattern(pattern)
    # a pattern that would empty a series keeps one point of it
    full = {"rate": 1.0, "by_class": np.ones((1, 1, 4)).tolist()}
    drawn = missing.draw_missing(np.zeros((3, 1, 4)), full, None, np.random.default_rng(7))
    assert (np.isfinite(drawn).sum(axis=(1, 2)) == 1).all()


def test_architectures_that_cannot_learn_gaps_are_refused_by_name() -> None:
    class Able:
        name, supports_missing = "able", True

    class Unable:
        name = "unable"

    missing.require_support([Able(), Unable()], 0, "d")  # nothing missing: anything trains
    with pytest.raises(BadInputError, match="unable cannot learn") as err:
        missing.require_support([Able(), Unable()], 12, "d")
    assert err.value.field == "architectures" and "able," not in str(err.value)
    with pytest.raises(BadInputError, match="missing"):
        missing.check_mode("some")


def test_a_generator_output_with_nan_is_refused_never_filled() -> None:
    real = np.zeros((4, 1, 6), np.float32)
    real[0, 0, 2] = np.nan
    broken = np.ones((4, 1, 6), np.float32)
    broken[3, 0, 5] = np.nan
    with pytest.raises(BadInputError, match="series 3, channel 0, point 5") as err:
        missing.comparable(real, broken, np.random.default_rng(0))
    assert err.value.field == "synthetic_values"


def test_gaps_in_only_one_real_set_do_not_tell_the_sets_apart() -> None:
    """Training series with gaps, held-out ones complete, fresh synthetic draws: after
    ``alike`` a membership-style distance test and a detector find nothing to tell."""
    from synthts_metrics.detector import Detector

    rng = np.random.default_rng(8)
    t = np.linspace(0, 1, 32)

    def draw(n: int) -> np.ndarray:
        return np.sin(2 * np.pi * 2 * t + rng.uniform(0, 6, (n, 1, 1))).astype(np.float32)

    train, held, synthetic = draw(150), draw(150), draw(150)
    train[rng.random(train.shape) < 0.3] = np.nan
    (train_f, held_f), syn_f = missing.alike([(train, None), (held, None)], synthetic, None, rng)
    assert all(np.isfinite(x).all() for x in (train_f, held_f, syn_f))
    # before the fix the held-out series were only filled: smoother, and told apart
    for other in (held_f, syn_f):
        assert Detector().compute(train_f, other, np.random.default_rng(9)) < 0.65
    naive = Detector().compute(missing.fill(train), held, np.random.default_rng(9))
    assert naive > 0.65, "the case must be one a detector tells apart without alike"


def test_a_large_pattern_stays_small_in_the_config() -> None:
    rng = np.random.default_rng(10)
    values = rng.normal(size=(200, 12, 1000)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    labels = np.arange(200) % 5
    pattern = missing.fit_pattern(values, labels, 5)
    assert len(str(pattern)) < missing.MAX_ENCODED + 200
    rates = missing.pattern_rates(pattern)
    assert rates.shape == (5, 12, 1000) and abs(rates.mean() - 0.1) < 0.01


def test_a_perfect_model_with_class_specific_gaps_scores_as_one() -> None:
    """Scored pooled (not per class), gaps still come from a real series of the same class
    when the classes are known: a perfect model is not penalised for another class's gaps."""
    from synthts_metrics.detector import Detector

    from synthts_core.services.training_trial import quality_score

    rng = np.random.default_rng(11)
    t = np.linspace(0, 1, 32)
    labels = np.arange(120) % 2

    def draw() -> np.ndarray:
        freq = (labels + 1)[:, None, None]
        return np.sin(2 * np.pi * freq * t + rng.uniform(0, 6, (120, 1, 1))).astype(np.float32)

    real, synthetic = draw(), draw()
    real[labels == 1, :, 24:] = np.nan  # class 1 always misses its last quarter
    score, _ = quality_score(Detector(), real, None, synthetic, None, [0],
                             classes=(labels, labels))
    blind, _ = quality_score(Detector(), real, None, synthetic, None, [0])
    assert score < 0.62 < blind
