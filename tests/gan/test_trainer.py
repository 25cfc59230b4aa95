"""Trainer internals: batched augmentation, epoch blocks, checkpoints, multi-channel, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthts_gan.epoch_data import circular_shift, epoch_blocks, fit_batch
from synthts_gan.trainer import GanConfig, GanTrainer


def test_circular_shift_matches_a_roll_per_series() -> None:
    x = torch.arange(5 * 2 * 7, dtype=torch.float32).view(5, 2, 7)
    shifts = torch.tensor([0, 1, 6, 3, 13])
    out = circular_shift(x, shifts)
    for i in range(5):
        torch.testing.assert_close(out[i], torch.roll(x[i], int(shifts[i]), dims=-1))


def test_epoch_blocks_is_a_shuffled_shifted_subset_with_matching_labels() -> None:
    n, length = 50, 16
    values = torch.arange(n, dtype=torch.float32)[:, None, None] * 100 + torch.arange(length)
    values = values.expand(n, 2, length).contiguous()
    labels = torch.arange(n)
    rng = torch.Generator().manual_seed(0)
    data, lab = epoch_blocks(values, labels, batch_size=4, block=3, rng=rng)
    assert data.shape == (4, 3, 4, 2, length) and lab.shape == (4, 3, 4)
    flat, flat_lab = data.reshape(-1, 2, length), lab.reshape(-1)
    assert len(set(flat_lab.tolist())) == 48  # no series twice
    for series, label in zip(flat, flat_lab, strict=True):
        assert torch.all(series // 100 == label)  # label still belongs to its series
        first = int(series[0, 0].item()) - 100 * int(label)  # = (-shift) mod length
        torch.testing.assert_close(torch.roll(series, first, -1), values[label])
    assert not torch.equal(flat_lab, torch.arange(48))  # shuffled


def test_fit_batch_shrinks_for_tiny_sets_and_refuses_too_few() -> None:
    assert fit_batch(1000, 128, 5) == 128
    assert fit_batch(20, 128, 5) == 4
    with pytest.raises(ValueError, match="at least 10 series"):
        fit_batch(9, 128, 5)


def _data(n=32, c=3, length=32):
    rng = np.random.default_rng(1)
    labels = np.arange(n) % 2
    t = np.arange(length) / length
    vals = np.sin(2 * np.pi * (labels[:, None, None] + 1) * t + rng.uniform(0, 6, (n, c, 1)))
    return vals.astype(np.float32), labels


@pytest.mark.parametrize("arch", ["cgan", "cwgan_gp", "wgan_gp"])
def test_checkpoint_resumes_the_exact_run(arch: str) -> None:
    values, labels = _data()
    cfg = GanConfig(architecture=arch, latent_dim=8, batch_size=8, n_critic=2, length=32,
                    n_channels=3, n_classes=2, seed=3)
    feed = labels if arch != "wgan_gp" else None
    straight = GanTrainer(cfg)
    straight.train_epoch(values, feed)
    blob = straight.checkpoint()
    expected = straight.train_epoch(values, feed)
    resumed = GanTrainer(cfg)
    resumed.load_checkpoint(blob)
    assert resumed.epochs_done == 1
    assert resumed.train_epoch(values, feed) == expected
    np.testing.assert_array_equal(resumed.generate(3, seed=0) if arch == "wgan_gp" else
                                  resumed.generate(3, labels=[0, 1, 1], seed=0),
                                  straight.generate(3, seed=0) if arch == "wgan_gp" else
                                  straight.generate(3, labels=[0, 1, 1], seed=0))


def test_weights_from_another_shape_are_refused_clearly() -> None:
    a = GanTrainer(GanConfig(latent_dim=8, length=32, n_channels=1))
    b = GanTrainer(GanConfig(latent_dim=8, length=32, n_channels=2))
    with pytest.raises(ValueError, match="do not fit"):
        b.load_weights(a.weights())
    with pytest.raises(ValueError, match="not a training checkpoint"):
        a.load_checkpoint(a.weights())


def test_generate_checks_its_inputs() -> None:
    cond = GanTrainer(GanConfig(architecture="cgan", latent_dim=8, length=32, n_classes=2))
    with pytest.raises(ValueError, match="labels must be"):
        cond.generate(2, labels=[0, 5])
    with pytest.raises(ValueError, match="label_weights must be"):
        cond.generate(2, label_weights=np.ones((2, 3)))
    with pytest.raises(ValueError, match="z must be"):
        cond.generate(2, z=np.zeros((2, 7)))
    plain = GanTrainer(GanConfig(latent_dim=8, length=32))
    with pytest.raises(ValueError, match="unconditional"):
        plain.generate(2, labels=[0, 1])


def test_conv_backbone_too_short_for_its_layers_fails_at_build() -> None:
    with pytest.raises(ValueError, match="needs length >= 64"):
        GanTrainer(GanConfig(backbone="conv", conv_layers=4, length=32))


def test_training_on_cpu_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    values, labels = _data(c=1)
    trainer = GanTrainer(GanConfig(architecture="cgan", latent_dim=8, batch_size=8, length=32,
                                   n_classes=2))
    trainer.train_epoch(values, labels)
    trainer.generate(2, labels=[0, 1])
    torch.testing.assert_close(torch.rand(3), expected)
