"""The example model family runs the same conformance suite as the built-in GAN and diffusion
families, plus checks of its own."""

import numpy as np
import pytest
from synthts_example.gaussian import PcaGaussianArchitecture, top_components

from synthts_core.errors import BadInputError
from synthts_core.testing.conformance.model import ModelArchitectureConformance


class TestPcaGaussianConformance(ModelArchitectureConformance):
    @pytest.fixture
    def architecture(self):
        return PcaGaussianArchitecture()


class TestPcaGaussianWithoutWhiteNoise(ModelArchitectureConformance):
    overrides = {"white_noise": False}

    @pytest.fixture
    def architecture(self):
        return PcaGaussianArchitecture()


def _two_sines(n: int = 40, length: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Class 0: 2 cycles, class 1: 5 cycles per window, small phase and amplitude jitter."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    t = np.arange(length) / length
    cycles = np.where(labels == 0, 2.0, 5.0)[:, None]
    phase = rng.normal(0.0, 0.2, (n, 1))
    amp = rng.uniform(0.6, 0.9, (n, 1))
    values = amp * np.sin(2 * np.pi * cycles * t + phase) + rng.normal(0, 0.05, (n, length))
    return values[:, None, :].astype(np.float32), labels.astype(np.int64)


def test_class_samples_look_like_their_class():
    values, labels = _two_sines()
    config = {"length": 64, "n_channels": 1, "n_classes": 2, "seed": 0}
    model = PcaGaussianArchitecture().build(config)
    model.train_epoch(values, labels)
    fake = model.generate(200, labels=np.zeros(200, np.int64), seed=3)
    real_means = [values[labels == c].mean(axis=0) for c in (0, 1)]
    gap = [np.abs(fake.mean(axis=0) - m).mean() for m in real_means]
    assert gap[0] < 0.05 < gap[1], gap
    # the dominant frequency of the class-0 samples is the real class 0's (2 cycles)
    power = np.abs(np.fft.rfft(fake[:, 0], axis=-1)) ** 2
    assert power.mean(axis=0).argmax() == 2
    # and their spread per point is the real one's, within 25%
    ratio = fake.std(axis=0).mean() / values[labels == 0].std(axis=0).mean()
    assert 0.75 < ratio < 1.25, ratio


def test_unconditional_config_is_one_class_and_refuses_labels():
    values, _ = _two_sines()
    model = PcaGaussianArchitecture().build({"length": 64, "n_channels": 1, "n_classes": 0})
    assert not model.conditional
    model.train_epoch(values, None)
    out = model.generate(3, seed=1)
    assert out.shape == (3, 1, 64)
    for field, kwargs in (
        ("labels", {"labels": np.zeros(3, np.int64)}),
        ("label_weights", {"label_weights": np.ones((3, 1))}),
    ):
        with pytest.raises(BadInputError) as err:
            model.generate(3, **kwargs)
        assert err.value.field == field
    with pytest.raises(BadInputError, match="labels"):
        model.train_epoch(values, np.zeros(len(values), np.int64))


def test_weights_of_another_config_are_refused():
    arch = PcaGaussianArchitecture()
    base = {"length": 16, "n_channels": 1, "n_classes": 2, "seed": 0}
    blob = arch.build(base).weights()
    for other in ({"components": 3}, {"length": 17}, {"n_classes": 3}, {"white_noise": False}):
        with pytest.raises(BadInputError) as err:
            arch.build({**base, **other}).load_weights(blob)
        assert err.value.field == "weights"
    with pytest.raises(BadInputError) as err:
        arch.build(base).load_checkpoint(blob)  # weights are not a checkpoint
    assert err.value.field == "checkpoint"
    with pytest.raises(BadInputError):
        arch.build(base).load_weights(b"not safetensors")


def test_randomized_svd_finds_the_exact_components():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.standard_normal((300, 3)))[0].T
    data = (rng.standard_normal((200, 3)) * [5.0, 3.0, 2.0]) @ basis
    data += 0.01 * rng.standard_normal(data.shape)
    s_exact, v_exact = top_components(data, 3, seed=(0, 0))
    s_fast, v_fast = top_components(data, 3, seed=(0, 0), exact_limit=10)
    np.testing.assert_allclose(s_fast, s_exact, rtol=1e-6)
    np.testing.assert_allclose(v_fast, v_exact, atol=1e-5)


def test_registered_through_entry_point(synthts_pm):
    synthts_pm.load_entry_points()
    assert synthts_pm.registries.architectures.plugin_of("pca_gaussian") == "example"
