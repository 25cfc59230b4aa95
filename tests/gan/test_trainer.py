"""Trainer internals: batched augmentation, epoch blocks, checkpoints, multi-channel, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthts_gan.config import GanConfig
from synthts_gan.epoch_data import circular_shift, epoch_blocks, fit_batch
from synthts_gan.trainer import GanTrainer


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


QUALITY = {"noise_inputs": True, "conditioning": "projection", "ema_decay": 0.9,
           "moment_weight": 1.0, "lr_schedule": "cosine", "total_epochs": 4,
           "spectral_norm": True, "lr_d_ratio": 2.0, "mean_correction": True}


@pytest.mark.parametrize("options", [{}, QUALITY], ids=["plain", "quality-options"])
@pytest.mark.parametrize("arch", ["cgan", "cwgan_gp", "wgan_gp"])
def test_checkpoint_resumes_the_exact_run(arch: str, options: dict) -> None:
    """With the quality options too: EMA weights, the noise generator's stream, the schedule
    position and the spectral-norm vectors all ride in the checkpoint."""
    values, labels = _data()
    cfg = GanConfig(architecture=arch, latent_dim=8, batch_size=8, n_critic=2, length=32,
                    n_channels=3, n_classes=2, seed=3, **options)
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



def test_ema_generator_samples_and_is_what_a_version_holds() -> None:
    values, labels = _data()
    cfg = GanConfig(architecture="cwgan_gp", latent_dim=8, batch_size=8, n_critic=2,
                    length=32, n_channels=3, n_classes=2, seed=3, ema_decay=0.5)
    trainer = GanTrainer(cfg)
    for _ in range(2):
        trainer.train_epoch(values, labels)
    z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    lab = np.array([0, 1, 0, 1])
    live = GanTrainer(GanConfig(**{**cfg.__dict__, "ema_decay": 0.0}))
    live.load_weights(trainer.weights())  # a version holds the averaged generator
    np.testing.assert_array_equal(live.generate(4, labels=lab, z=z),
                                  trainer.generate(4, labels=lab, z=z))
    import torch

    with torch.no_grad():
        differs = any(not torch.equal(a, b) for a, b in
                      zip(trainer.gen.parameters(), trainer.gen_ema.parameters(), strict=True))
    assert differs  # the average is not the live generator


def test_ema_warms_up_so_a_short_run_does_not_sample_its_first_weights() -> None:
    """With a slow decay (0.9999) and a few dozen generator updates, the average must have
    followed training (decay warmed up from (1 + t) / (10 + t)), not sit at the start."""
    import copy

    values, labels = _data()
    cfg = GanConfig(architecture="cwgan_gp", latent_dim=8, batch_size=8, n_critic=1,
                    length=32, n_channels=3, n_classes=2, seed=3, ema_decay=0.9999)
    trainer = GanTrainer(cfg)
    start = copy.deepcopy(trainer.gen)
    for _ in range(3):
        trainer.train_epoch(values, labels)

    def distance(a, b) -> float:  # two generators with the same parameters
        return float(sum((x - y).pow(2).sum() for x, y in
                         zip(a.parameters(), b.parameters(), strict=True)).sqrt())

    travelled = distance(start, trainer.gen)
    assert travelled > 0
    assert distance(trainer.gen_ema, trainer.gen) < 0.5 * travelled


def test_moment_loss_is_unbiased_for_the_real_distribution() -> None:
    """On batches of the real data the loss averages ~0 (a plain squared error would sit at
    the estimate's variance and shrink the noise); smooth series with the right per-point
    spread but no white noise score clearly worse."""
    import torch
    from synthts_gan.steps import moment_loss

    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 64)
    labels = np.repeat(np.arange(4), 200)
    real = np.concatenate([0.5 * np.sin(2 * np.pi * (k + 1) * t)[None, None, :]
                           + rng.normal(0, 0.1, (200, 1, 64)) for k in range(4)])
    cfg = GanConfig(architecture="cwgan_gp", latent_dim=8, length=64, n_channels=1,
                    n_classes=4, moment_weight=1.0)
    trainer = GanTrainer(cfg)
    trainer._to_device(real.astype(np.float32), labels)
    g = torch.Generator().manual_seed(0)

    def batch_loss(x: np.ndarray) -> float:
        idx = torch.randint(0, len(labels), (64,), generator=g)
        return float(moment_loss(trainer.ctx, torch.as_tensor(x[idx.numpy()], dtype=torch.float32),
                                 torch.as_tensor(labels[idx.numpy()])))

    real_losses = [batch_loss(real) for _ in range(200)]
    assert abs(np.mean(real_losses)) < 0.05, np.mean(real_losses)
    walk = np.cumsum(rng.normal(0, 0.1 / 8, (800, 1, 64)), axis=2)
    smooth = np.concatenate([0.5 * np.sin(2 * np.pi * (k + 1) * t)[None, None, :]
                             for k in range(4)]).repeat(200, axis=0) + walk
    assert np.mean([batch_loss(smooth) for _ in range(50)]) > 0.3
    # with a mean error, keeping the real spread must still beat collapsing it (a second
    # moment around the real mean would reward the collapse: the diversity loss we saw)
    mean = np.concatenate([0.5 * np.sin(2 * np.pi * (k + 1) * t)[None, None, :]
                           for k in range(4)]).repeat(200, axis=0)
    spread = np.mean([batch_loss(real + 0.1) for _ in range(50)])
    collapsed = np.mean([batch_loss(mean + 0.1 + (real - mean) * 0.05) for _ in range(50)])
    assert spread + 0.5 < collapsed, (spread, collapsed)


def test_weights_saved_before_the_critic_head_was_named_still_load() -> None:
    """Versions registered with the seed's MLP critic stored its last layer as the body's
    last Linear; they load into today's networks."""
    from safetensors.torch import load, save

    cfg = GanConfig(architecture="cgan", latent_dim=8, length=32, n_channels=3, n_classes=2)
    trainer = GanTrainer(cfg)
    tensors = load(trainer.weights())
    old = {("critic.body.8." + k.removeprefix("critic.score.")) if k.startswith("critic.score.")
           else k: v for k, v in tensors.items()}
    fresh = GanTrainer(GanConfig(**{**cfg.__dict__, "seed": 9}))
    fresh.load_weights(save(old))
    np.testing.assert_array_equal(fresh.generate(2, labels=[0, 1], seed=1),
                                  trainer.generate(2, labels=[0, 1], seed=1))


def _offset_classes(n=64, length=32):
    """Two classes with their own shape and level (c=1), in [-1, 1]."""
    rng = np.random.default_rng(4)
    labels = np.arange(n) % 2
    t = np.arange(length) / length
    shape = np.where(labels[:, None] == 0, 0.5, -0.3 + 0.4 * np.sin(2 * np.pi * t))
    return (shape[:, None, :] + rng.normal(0, 0.05, (n, 1, length))).astype(np.float32), labels


def _two_class_trainer(**options) -> GanTrainer:
    return GanTrainer(GanConfig(**{"architecture": "cwgan_gp", "latent_dim": 8, "batch_size": 8,
                                   "n_critic": 1, "length": 32, "n_channels": 1,
                                   "n_classes": 2, "seed": 0, **options}))


@pytest.mark.parametrize("noise_inputs", [False, True])
def test_mean_correction_matches_each_class_mean(noise_inputs: bool) -> None:
    """After one epoch the generator's class means are far off; with the correction, fresh
    samples (another draw than the one the gap was measured on) match each real class mean
    to within their own sampling noise."""
    values, labels = _offset_classes()
    errors = {}
    for on in (False, True):
        trainer = _two_class_trainer(noise_inputs=noise_inputs, mean_correction=on)
        trainer.train_epoch(values, labels)
        asked = np.repeat([0, 1], 300)
        out = trainer.generate(len(asked), labels=asked, seed=11)
        assert np.abs(out).max() <= 1.0
        errors[on] = max(float(np.abs(out[asked == k].mean(0) - values[labels == k].mean(0))
                               .max()) for k in (0, 1))
    assert errors[False] > 0.2
    assert errors[True] < 0.2 * errors[False]


def test_mean_correction_leaves_training_and_sampling_rng_alone() -> None:
    """Measuring the gap draws from its own generator: the same run with the option on
    trains exactly the same weights."""
    values, labels = _offset_classes()
    live = {}
    for on in (False, True):
        trainer = _two_class_trainer(noise_inputs=True, mean_correction=on, seed=2)
        for _ in range(2):
            trainer.train_epoch(values, labels)
            trainer.generate(4, labels=[0, 1, 0, 1], seed=1)  # measures the gap when on
        live[on] = trainer.gen.state_dict()
        assert trainer._gap_epoch == (2 if on else -1)
    for key, value in live[False].items():
        torch.testing.assert_close(live[True][key], value, rtol=0, atol=0)


def test_weights_without_the_gap_are_refused_by_a_corrected_model() -> None:
    values, labels = _offset_classes()
    plain = _two_class_trainer()
    plain.train_epoch(values, labels)
    corrected = _two_class_trainer(mean_correction=True)
    with pytest.raises(Exception, match="mean_gap"):
        corrected.load_weights(plain.weights())
