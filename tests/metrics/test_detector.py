"""The metrics that can fail: the classifier two-sample test (``detector``), TSTR/TRTR
(``tstr``), the verdict built from them, and the literature GRU score saying when it did not fit.

Data: one harmonic class as in the seed's set (2 sin(2 pi f t) + N(0, 0.2), 256 points over
t in [0, 1]), 200 series per set. Values measured on this machine are in the comments; the
asserted bounds leave room for seed and platform noise.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthts_metrics.detector import Detector, TrainSyntheticTestReal
from synthts_metrics.posthoc import DiscriminativeScore

from synthts_core.domain import Dataset
from synthts_core.measured import Measured
from synthts_core.plugins import make_plugin_manager
from synthts_core.services.evaluation import compare, verdict
from synthts_core.testing.conformance.metrics import sine_set

N, LENGTH = 200, 256
T = np.linspace(0.0, 1.0, LENGTH)


def harmonic(freq: float, n: int, seed: int, *, amplitude: float = 2.0, noise: float = 0.2,
             random_phase: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)) if random_phase else 0.0
    signal = amplitude * np.sin(2 * np.pi * freq * T[None, None, :] + phase)
    return (signal + rng.normal(0.0, noise, (n, 1, LENGTH))).astype(np.float32)


@pytest.fixture(scope="module")
def real() -> np.ndarray:
    return harmonic(3, N, 1)


CASES = {
    # name: (synthetic set, lowest accuracy the detector must reach)
    "amplitude halved": (lambda: harmonic(3, N, 2, amplitude=1.0), 0.95),       # 1.000
    "frequency off by one": (lambda: harmonic(4, N, 2), 0.95),                   # 1.000
    "noise level +30 %": (lambda: harmonic(3, N, 2, noise=0.26), 0.9),           # 0.995
    "noise level -30 %": (lambda: harmonic(3, N, 2, noise=0.14), 0.9),
    "random instead of fixed phase": (lambda: harmonic(3, N, 2, random_phase=True), 0.8),  # 0.935
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_detector_flags_what_the_eye_sees(real, case):
    make, floor = CASES[case]
    out = Detector().compute(real, make(), np.random.default_rng(0))
    assert isinstance(out, Measured) and out.conclusive, out
    assert float(out) >= floor, (case, out)
    assert out.ci[0] > 0.5, (case, out)  # significantly better than a coin
    assert float(out) > Detector.pass_threshold  # the verdict fails such a class


def test_detector_reports_about_half_for_two_draws_of_one_generator(real):
    out = Detector().compute(real, harmonic(3, N, 2), np.random.default_rng(0))  # 0.500
    assert out.conclusive
    assert abs(float(out) - 0.5) <= 0.08, out
    assert out.ci[0] <= 0.5 <= out.ci[1], out
    assert out.extra["control_accuracy"] >= 0.9


def test_detector_says_when_it_cannot_judge():
    """White noise has no temporal structure: the detector cannot separate it from its own
    time-shuffled copy, so it must not vouch for any verdict on it."""
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(60, 1, 64)).astype(np.float32)
    out = Detector().compute(noise, rng.normal(size=(60, 1, 64)).astype(np.float32),
                             np.random.default_rng(0))
    assert not out.conclusive and "shuffled" in out.inconclusive, out


def test_detector_says_when_there_are_too_few_series():
    out = Detector().compute(sine_set(6, 1, 64, 1), sine_set(6, 1, 64, 2),
                             np.random.default_rng(0))
    assert not out.conclusive, out


def _labelled(sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate(sets),
            np.concatenate([np.full(len(s), k) for k, s in enumerate(sets)]))


def test_tstr_near_one_when_synthetic_teaches_the_classes():
    real, y = _labelled([harmonic(f, 100, f) for f in (1, 2, 3)])
    fake, ys = _labelled([harmonic(f, 100, 10 + f) for f in (1, 2, 3)])
    out = TrainSyntheticTestReal().compute(real, fake, np.random.default_rng(0),
                                           real_labels=y, synthetic_labels=ys)
    assert out.conclusive and float(out) >= 0.95, (out, out.extra)  # 1.00


@pytest.mark.parametrize("case", ["frequency off by one", "labels swapped"])
def test_tstr_flags_a_class_the_synthetic_set_gets_wrong(case):
    """One of three classes wrong: 0.83 measured for the frequency case (its real series are
    then partly taken for a neighbour), 0.33 for swapped labels. TSTR is blind to amplitude by
    design (a class is recognised at any amplitude): the detector covers that."""
    real, y = _labelled([harmonic(f, 100, f) for f in (1, 2, 3)])
    freqs = (1, 3, 3) if case == "frequency off by one" else (2, 1, 3)
    fake, ys = _labelled([harmonic(f, 100, 10 + k) for k, f in enumerate(freqs)])
    out = TrainSyntheticTestReal().compute(real, fake, np.random.default_rng(0),
                                           real_labels=y, synthetic_labels=ys)
    assert out.conclusive and float(out) <= 0.9, (case, out, out.extra)


def test_tstr_inconclusive_when_real_labels_are_not_learnable():
    rng = np.random.default_rng(0)
    real = harmonic(3, 120, 1)
    y = rng.integers(0, 2, 120)  # labels that mean nothing
    out = TrainSyntheticTestReal().compute(real, harmonic(3, 120, 2), np.random.default_rng(0),
                                           real_labels=y, synthetic_labels=y)
    assert not out.conclusive, (out, out.extra)


@pytest.mark.slow
def test_verdict_fails_exactly_the_broken_class_and_shows_it_first():
    regs = make_plugin_manager().registries
    real_sets = [harmonic(f, 120, f) for f in (1, 2, 3)]
    fake_sets = [harmonic(1, 120, 11), harmonic(2, 120, 12, amplitude=1.0),
                 harmonic(3, 120, 13)]
    real, y = _labelled(real_sets)
    fake, ys = _labelled(fake_sets)
    ds = Dataset.build("v", real, y, ["1Hz", "2Hz", "3Hz"])
    results = compare(regs, ds, fake, ys, ["detector", "mmd"], seed=0)
    v = verdict(regs, results)
    assert v is not None and v.metric == "detector" and not v.passed
    assert v.worst == "2Hz" and v.classes[0].label == "2Hz" and v.classes[0].passed is False
    assert [c.passed for c in v.classes[1:]] == [True, True], v
    assert "2Hz" in v.summary


def test_verdict_passes_two_draws_of_the_same_generator():
    regs = make_plugin_manager().registries
    real, y = _labelled([harmonic(f, 120, f) for f in (1, 2)])
    fake, ys = _labelled([harmonic(f, 120, 20 + f) for f in (1, 2)])
    results = compare(regs, Dataset.build("v", real, y, ["a", "b"]), fake, ys, ["detector"])
    v = verdict(regs, results)
    assert v is not None and v.passed, v


def test_discriminative_gru_says_when_it_did_not_fit():
    """Three iterations cannot fit the GRU: its |acc - 0.5| looks perfect and must be
    reported as inconclusive, never as a good score."""
    real = sine_set(300, 5, 24, 1)
    rng = np.random.default_rng(5)
    noise = rng.random((300, 5, 24)).astype(np.float32)
    out = DiscriminativeScore(iterations=3, repeats=1).compute(real, noise,
                                                              np.random.default_rng(0))
    assert not out.conclusive and "did not fit" in out.inconclusive, out
    fitted = DiscriminativeScore(iterations=300, repeats=1).compute(real, noise,
                                                                   np.random.default_rng(0))
    assert fitted.conclusive and float(fitted) > 0.35, fitted
