"""The GAN family on series with missing points (NaN): AmbientGAN masking in the critic steps,
the private update and the real statistics; complete data trains exactly as before."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from synthts_gan.config import GanConfig
from synthts_gan.plugin import builtin_architectures
from synthts_gan.private import MISSING_NOT_COVERED, clipped_grad_sum
from synthts_gan.steps import StepContext, cgan_block, wgan_gp_block
from synthts_gan.trainer import GanTrainer

from synthts_core.errors import BadInputError

ARCHS = ("cgan", "cwgan_gp", "wgan_gp")
QUALITY = {"noise_inputs": True, "conditioning": "projection", "ema_decay": 0.9,
           "moment_weight": 1.0, "lr_schedule": "cosine", "total_epochs": 3,
           "spectral_norm": True, "mean_correction": True, "augment": True}


def _data(n: int = 24, c: int = 2, length: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    labels = np.arange(n) % 3
    t = np.arange(length) / length
    v = np.sin(2 * np.pi * (labels[:, None, None] + 1) * t + rng.uniform(0, 6, (n, c, 1)))
    return (0.9 * v).astype(np.float32), labels


def _holed(values: np.ndarray, share: float = 0.2, seed: int = 0) -> np.ndarray:
    out = values.copy()
    out[np.random.default_rng(seed).random(values.shape) < share] = np.nan
    return out


def _config(arch: str, **options) -> GanConfig:
    return GanConfig(**{"architecture": arch, "latent_dim": 8, "batch_size": 8, "n_critic": 2,
                        "length": 16, "n_channels": 2, "n_classes": 3, "seed": 5,
                        "conv_width": 8, "conv_layers": 2, **options})


def _finite_state(trainer: GanTrainer) -> bool:
    nets = [trainer.gen, trainer.critic] + ([trainer.gen_ema] if trainer.gen_ema else [])
    return all(torch.isfinite(t).all() for net in nets for t in net.state_dict().values()
               if t.is_floating_point())


def test_every_gan_architecture_declares_missing_support() -> None:
    assert all(a.supports_missing for a in builtin_architectures())


@pytest.mark.parametrize("options", [{}, QUALITY, {**QUALITY, "backbone": "conv"}],
                         ids=["plain", "quality", "quality-conv"])
@pytest.mark.parametrize("arch", ARCHS)
def test_a_fifth_of_points_missing_trains_finite_and_samples_complete(arch, options) -> None:
    values, labels = _data()
    holed = _holed(values)
    assert 0.15 < np.isnan(holed).mean() < 0.25
    trainer = GanTrainer(_config(arch, **options))
    feed = None if arch == "wgan_gp" else labels
    for _ in range(2):
        losses = trainer.train_epoch(holed, feed)
        assert losses and all(np.isfinite(v) for v in losses.values()), losses
    assert _finite_state(trainer)
    out = (trainer.generate(9, seed=0) if arch == "wgan_gp"
           else trainer.generate(9, labels=np.arange(9) % 3, seed=0))
    assert out.shape == (9, 2, 16) and np.isfinite(out).all() and np.abs(out).max() <= 1.0
    if options.get("mean_correction"):
        assert torch.isfinite(trainer.mean_gap).all()
    if options.get("moment_weight"):
        assert torch.isfinite(trainer.ctx.class_mean).all()
        assert torch.isfinite(trainer.ctx.class_std).all()
    trainer.load_weights(trainer.weights())  # nothing NaN saved either


class _AlwaysMasked(GanTrainer):
    """Takes the masked path even for complete data (a mask of ones)."""

    @staticmethod
    def _observed_mask(values: np.ndarray) -> np.ndarray:
        return np.ones(values.shape, bool)


# the moment loss's statistics are summed in another order on the masked path (equal to
# rounding: test_observed_statistics_...), so it is off here
EXACT = {k: v for k, v in QUALITY.items() if k != "moment_weight"}


@pytest.mark.parametrize("options", [{}, EXACT, {**EXACT, "backbone": "conv"}],
                         ids=["plain", "quality", "quality-conv"])
@pytest.mark.parametrize("arch", ARCHS)
def test_the_masked_path_with_every_point_observed_is_the_complete_path(arch, options) -> None:
    """Complete data skips the masking; the masked path with a mask of ones gives the same
    losses and weights bit for bit (same draws, products with 1): complete data trains as
    before, and the masked path changes nothing but the masking."""
    values, labels = _data()
    feed = None if arch == "wgan_gp" else labels
    plain, masked = GanTrainer(_config(arch, **options)), _AlwaysMasked(_config(arch, **options))
    for _ in range(2):
        assert plain.train_epoch(values, feed) == masked.train_epoch(values, feed)
    assert plain._mask is None and masked._mask is not None
    for a, b in zip(plain.gen.state_dict().values(), masked.gen.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def _recording_ctx(trainer: GanTrainer) -> tuple[StepContext, list[torch.Tensor]]:
    seen: list[torch.Tensor] = []
    trainer.critic.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    return trainer.ctx, seen


@pytest.mark.parametrize("arch", ["cwgan_gp", "cgan"])
def test_the_critic_sees_real_and_fake_through_the_same_masks(arch: str) -> None:
    """Each class gets its own missing pattern; every series the critic scores (real, fake,
    penalty mixes, the generator's fakes) is 0 exactly where its class's pattern is missing
    (the C-GAN's fakes, drawn for random labels, through a real mask of their own class)."""
    trainer = GanTrainer(_config(arch, batch_size=12))
    ctx, seen = _recording_ctx(trainer)
    g = torch.Generator().manual_seed(0)
    k = 1 if arch == "cgan" else 2
    labels = torch.arange(k * 12).remainder(3).view(k, 12)
    patterns = (torch.rand(3, 2, 16, generator=g) > 0.3).float()
    mask = patterns[labels]
    real = (torch.rand(k, 12, 2, 16, generator=g) * 1.6 - 0.8) * mask
    block = cgan_block if arch == "cgan" else wgan_gp_block
    acc = torch.zeros(4)
    # fake labels of the C-GAN: the block draws them first from this generator
    fake_labels = torch.randint(0, 3, (12,), generator=torch.Generator().manual_seed(9))
    block(ctx, real, labels, acc, 10.0, torch.Generator().manual_seed(9), mask)
    assert torch.isfinite(acc).all()
    if arch == "cgan":
        (x,) = seen  # fakes then reals, scored once
        expected = torch.cat((patterns[fake_labels], mask[0]))
        assert torch.equal(x != 0, expected > 0)
    else:
        # per critic step: real+fake, then the penalty's mix; then the generator's fakes
        assert len(seen) == 2 * k + 1
        for j in range(k):
            both = torch.cat((mask[j], mask[j]))
            assert torch.equal(seen[2 * j] != 0, both > 0)
            assert torch.equal(seen[2 * j + 1] != 0, mask[j] > 0)
        assert torch.equal(seen[-1] != 0, mask[k - 1] > 0)


def test_observed_statistics_are_taken_over_observed_points() -> None:
    """The moment loss's per-class mean and std and the mean correction's class mean ignore
    missing points (numpy's nan statistics of the same data)."""
    values, labels = _data()
    holed = _holed(values, 0.3)
    trainer = GanTrainer(_config("cwgan_gp", moment_weight=1.0, mean_correction=True))
    trainer.train_epoch(holed, labels)
    series = np.concatenate((holed, np.diff(holed, axis=-1)), axis=-1)
    pooled_points = 0
    for k in range(3):
        part = series[labels == k]
        # a point with fewer than 2 observations in the class: the pooled statistics
        few = (~np.isnan(part)).sum(0) < 2
        pooled_points += int(few.sum())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy: too few points there
            mean, std = np.nanmean(part, 0), np.nanstd(part, 0, ddof=1)
        np.testing.assert_allclose(trainer.ctx.class_mean[k].numpy(), np.where(
            few, np.nanmean(series, 0), mean), atol=1e-5)
        np.testing.assert_allclose(trainer.ctx.class_std[k].numpy(), np.where(
            few, np.nanstd(series, 0, ddof=1), std), atol=1e-5)
        np.testing.assert_allclose(trainer.real_class_mean[k].numpy(),
                                   np.nanmean(holed[labels == k], 0), atol=1e-6)
    assert 0 < pooled_points < series.size // 10  # both cases checked
    # on complete data the masked path's statistics are the complete path's, to rounding
    cfg = _config("cwgan_gp", moment_weight=1.0, mean_correction=True)
    plain, masked = GanTrainer(cfg), _AlwaysMasked(cfg)
    for t in (plain, masked):
        t._to_device(values, labels)
    for a, b in ((plain.ctx.class_mean, masked.ctx.class_mean),
                 (plain.ctx.class_std, masked.ctx.class_std),
                 (plain.real_class_mean, masked.real_class_mean)):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


def test_a_point_missing_in_a_whole_class_takes_pooled_statistics() -> None:
    values, labels = _data()
    holed = values.copy()
    holed[labels == 1, 0, 5] = np.nan
    trainer = GanTrainer(_config("cwgan_gp", moment_weight=1.0))
    trainer.train_epoch(holed, labels)
    pooled = np.nanmean(holed[:, 0, 5])
    assert trainer.ctx.class_mean[1, 0, 5] == pytest.approx(pooled, abs=1e-5)
    assert torch.isfinite(trainer.ctx.class_std).all()


def test_the_generator_learns_the_complete_level_not_the_zeros() -> None:
    """Series at a level of 0.6 with half their points missing: a generator trained without
    masking learns the 0s put at missing points (zero-filled data instead, seeds 0-4: 13-47 %
    of its points within 0.3 of 0, mean 0.31-0.54); with it, the level (at most 0.4 %
    there, mean 0.63-0.69)."""
    rng = np.random.default_rng(0)
    values = (0.6 + rng.normal(0, 0.05, (64, 1, 16))).astype(np.float32)
    holed = _holed(values, 0.5, seed=1)
    trainer = GanTrainer(GanConfig(architecture="wgan_gp", latent_dim=8, batch_size=16,
                                   n_critic=2, length=16, n_channels=1, seed=0, lr=1e-3,
                                   beta2=0.9))
    for _ in range(100):
        trainer.train_epoch(holed)
    out = trainer.generate(256, seed=0)
    assert np.isfinite(out).all()
    assert float((np.abs(out) < 0.3).mean()) < 0.05
    assert abs(float(out.mean()) - 0.6) < 0.12, float(out.mean())


def test_an_infinite_value_is_refused_naming_the_point() -> None:
    values, labels = _data()
    values[3, 1, 7] = np.inf
    with pytest.raises(BadInputError, match=r"\(3, 1, 7\)") as err:
        GanTrainer(_config("cgan")).train_epoch(values, labels)
    assert err.value.extra["field"] == "values"


# ---------------------------------------------------------------------------- private update


def _critic_batch(b: int = 6):
    trainer = GanTrainer(_config("cwgan_gp"))
    g = torch.Generator().manual_seed(3)
    x = torch.rand(b, 2, 16, generator=g) * 2 - 1
    mask = (torch.rand(b, 2, 16, generator=g) > 0.25).float()
    fake = torch.rand(b, 2, 16, generator=g) * 2 - 1
    y = torch.randint(0, 3, (b,), generator=g)
    return trainer.critic, x, y, fake, torch.rand(b, generator=g), mask


def test_private_clipped_sum_masks_each_example_with_its_own_mask() -> None:
    """NaN at masked real points never reaches the sum; the batch's sum is the sum of each
    example alone with its own mask (one example's mask reaches no other's gradient); a mask
    of ones is no mask."""
    critic, x, y, fake, mix, mask = _critic_batch()
    holed = torch.where(mask > 0, x, torch.full_like(x, float("nan")))
    sums, stats = clipped_grad_sum(critic, "wgan", holed, y, fake, y, mix, 10.0, 0.1, mask)
    assert torch.isfinite(stats).all()
    assert all(torch.isfinite(v).all() for v in sums.values())
    alone = [clipped_grad_sum(critic, "wgan", holed[i:i + 1], y[i:i + 1], fake[i:i + 1],
                              y[i:i + 1], mix[i:i + 1], 10.0, 0.1, mask[i:i + 1])[0]
             for i in range(len(x))]
    for name, total in sums.items():
        torch.testing.assert_close(total, sum(a[name] for a in alone), atol=1e-6, rtol=1e-5)
    # the masked sum is not the unmasked one (the mask does something) ...
    plain, _ = clipped_grad_sum(critic, "wgan", x, y, fake, y, mix, 10.0, 0.1)
    assert any(not torch.allclose(plain[k], sums[k]) for k in plain)
    # ... and a mask of ones is exactly no mask
    ones, _ = clipped_grad_sum(critic, "wgan", x, y, fake, y, mix, 10.0, 0.1,
                               torch.ones_like(mask))
    for k in plain:
        torch.testing.assert_close(ones[k], plain[k], rtol=0, atol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_private_training_with_missing_points_is_finite_and_says_what_it_reads(arch) -> None:
    values, labels = _data()
    holed = _holed(values)
    # the small conv critic DP jobs get (PRIVATE_SPACE): per-example gradients stay cheap
    trainer = GanTrainer(_config(arch, dp_epsilon=8.0, total_epochs=2, augment=True,
                                 backbone="conv"))
    feed = None if arch == "wgan_gp" else labels
    for _ in range(2):
        assert all(np.isfinite(v) for v in trainer.train_epoch(holed, feed).values())
    assert _finite_state(trainer)
    assert np.isfinite(trainer.generate(6, labels=np.arange(6) % 3 if feed is not None
                                        else None, seed=0)).all()
    assert MISSING_NOT_COVERED in trainer.privacy_record(len(holed)).not_covered
    complete = GanTrainer(_config(arch, dp_epsilon=8.0, total_epochs=2, backbone="conv"))
    complete.train_epoch(values, feed)
    assert MISSING_NOT_COVERED not in complete.privacy_record(len(values)).not_covered
