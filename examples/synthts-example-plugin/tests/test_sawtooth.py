import numpy as np
import pytest
from synthts_example.plugin import Sawtooth

from synthts_core.testing.conformance.signals import SignalGeneratorConformance


class TestSawtoothConformance(SignalGeneratorConformance):
    @pytest.fixture
    def generator(self):
        return Sawtooth()


def test_sawtooth_stays_within_amplitude():
    out = Sawtooth().generate(
        4, np.arange(100.0), {"frequency": 0.1, "amplitude": 2.0}, np.random.default_rng(0)
    )
    assert out.min() >= -2.0 and out.max() <= 2.0


def test_registered_through_entry_point(synthts_pm):
    synthts_pm.load_entry_points()
    assert synthts_pm.registries.signals.plugin_of("sawtooth") == "example"


def test_range_gap_metric_separates_flat_from_matching():
    from synthts_example.plugin import RangeGap

    rng = np.random.default_rng(0)
    times = np.arange(64.0)
    real = Sawtooth().generate(32, times, {"frequency": 0.1, "amplitude": 1.0}, rng)[:, None]
    same = Sawtooth().generate(32, times, {"frequency": 0.1, "amplitude": 1.0}, rng)[:, None]
    flat = np.zeros_like(real)
    metric = RangeGap()
    assert metric.compute(real, same, rng) < 0.05
    assert metric.compute(real, flat, rng) > 0.95


def test_metric_registered_through_entry_point(synthts_pm):
    synthts_pm.load_entry_points()
    assert synthts_pm.registries.metrics.plugin_of("range_gap") == "example"
