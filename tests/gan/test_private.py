"""The GAN family's DP training (synthts_gan.private) as a trainer: the noise is set to spend
the target in the planned steps, the trainer stops at its budget, a checkpoint carries the
steps taken, and what cannot be private is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load
from synthts_gan.plugin import builtin_architectures

from synthts_core import privacy
from synthts_core.errors import BadInputError

ARCHS = {a.name: a for a in builtin_architectures()}
SMALL = {"latent_dim": 8, "batch_size": 8, "n_critic": 2, "embed_dim": 4}


def _data(n: int = 40, length: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    t = np.arange(length) / length
    values = np.sin(2 * np.pi * (labels[:, None, None] + 1) * t + rng.uniform(0, 6, (n, 1, 1)))
    return values.astype(np.float32), labels


def _build(name: str, epochs: int = 2, **extra):
    arch = ARCHS[name]
    config = {**{k: v for k, v in SMALL.items() if k in arch.space.names}, "dp_epsilon": 4.0,
              **extra, "length": 16, "n_channels": 1, "n_classes": 2, "seed": 3,
              "total_epochs": epochs}
    return arch.build(config)


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_every_gan_architecture_trains_privately_and_stops_at_its_budget(name: str) -> None:
    assert privacy.supports_dp(ARCHS[name])
    values, labels = _data()
    trainer = _build(name)
    y = labels if trainer.conditional else None
    plan = trainer.privacy_record(len(values))
    # 40 series, batches of 8: as many steps an epoch as a non-private epoch's updates
    block = 2 if name != "cgan" else 1
    assert plan.planned_steps == 2 * (40 // (8 * block)) * block and plan.steps == 0
    assert plan.sample_rate == pytest.approx(8 / 40) and plan.delta == pytest.approx(1 / 40)
    for _ in range(2):
        losses = trainer.train_epoch(values, y)
        assert all(np.isfinite(v) for v in losses.values())
    record = trainer.privacy_record(len(values))
    assert record.steps == record.planned_steps and trainer.privacy_exhausted
    assert 3.98 <= record.epsilon <= 4.0
    with pytest.raises(BadInputError, match="budget is spent") as err:
        trainer.train_epoch(values, y)
    assert err.value.extra["field"] == "dp_epsilon"
    assert np.isfinite(trainer.generate(4, labels=np.array([0, 1, 0, 1])
                                        if trainer.conditional else None)).all()


def test_a_resumed_trainer_goes_on_counting_its_steps() -> None:
    values, labels = _data()
    first = _build("cwgan_gp", epochs=3)
    first.train_epoch(values, labels)
    saved = first.checkpoint()
    steps = first.dp_steps
    first.train_epoch(values, labels)
    resumed = _build("cwgan_gp", epochs=3)
    resumed.load_checkpoint(saved)
    assert resumed.dp_steps == steps
    resumed.train_epoch(values, labels)
    # the same steps and budget as without the interruption (not the same weights: the noise
    # is fresh, see the next test)
    assert resumed.dp_steps == first.dp_steps
    assert resumed.privacy_record(40).epsilon == first.privacy_record(40).epsilon
    resumed.train_epoch(values, labels)
    assert resumed.privacy_exhausted and resumed.dp_steps == resumed.privacy_record(40).planned_steps


def _critic(trainer) -> dict[str, np.ndarray]:
    return {k: p.detach().numpy().copy() for k, p in trainer.critic.named_parameters()}


def _all_differ(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return all(not np.array_equal(a[k], b[k]) for k in a)


def test_the_noise_and_batches_cannot_be_replayed_from_the_seed_or_a_checkpoint() -> None:
    """The seed is logged and the seeded generator is checkpointed: the DP masks and noise
    come from neither. Two trainers from one config and seed, or two resumed from one
    checkpoint, take different private updates (every critic tensor differs); the seeded
    generator's state does not follow the secret batch sizes; without DP, runs still repeat."""
    values, labels = _data()
    one, two = _build("cwgan_gp", epochs=3), _build("cwgan_gp", epochs=3)
    assert not _all_differ(_critic(one), _critic(two))  # the same start, from the seed
    one.train_epoch(values, labels)
    two.train_epoch(values, labels)
    assert one.dp_steps == two.dp_steps
    assert _all_differ(_critic(one), _critic(two)), "the same noise from the same seed"
    # different masks, so different batch sizes, yet the seeded generator drew the same: its
    # state (which checkpoints save) records nothing of the private draws
    assert torch.equal(one.rng.get_state(), two.rng.get_state())
    saved = one.checkpoint()
    resumed = [_build("cwgan_gp", epochs=3) for _ in range(2)]
    for r in resumed:
        r.load_checkpoint(saved)
        r.train_epoch(values, labels)
    assert _all_differ(*map(_critic, resumed)), "the checkpoint replays the noise"
    secret = one._dp_rng.get_state()
    assert not any(t.shape == secret.shape and torch.equal(t, secret)
                   for t in load(saved).values()), "the DP generator's state is saved"
    plain = [_build("cwgan_gp", dp_epsilon=None) for _ in range(2)]
    for t in plain:
        t.train_epoch(values, labels)
    a, b = map(_critic, plain)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_the_noise_grows_with_the_planned_epochs() -> None:
    short = _build("cwgan_gp", epochs=2).privacy_record(40)
    long = _build("cwgan_gp", epochs=20).privacy_record(40)
    assert long.noise_multiplier > short.noise_multiplier
    assert long.planned_steps == 10 * short.planned_steps


@pytest.mark.parametrize(("extra", "field"), [({"moment_weight": 1.0}, "moment_weight"),
                                              ({"mean_correction": True}, "mean_correction")])
def test_options_that_read_real_statistics_are_refused_with_dp(extra: dict, field: str) -> None:
    with pytest.raises(BadInputError) as err:
        _build("cwgan_gp", **extra)
    assert err.value.extra["field"] == field
    _build("cwgan_gp", **extra, dp_epsilon=None)  # without DP they are fine


def test_a_trainer_without_planned_epochs_cannot_set_its_noise() -> None:
    values, labels = _data()
    trainer = _build("cwgan_gp", epochs=0)
    with pytest.raises(BadInputError, match="planned epochs") as err:
        trainer.train_epoch(values, labels)
    assert err.value.extra["field"] == "dp_epsilon"


def test_without_dp_nothing_changes() -> None:
    trainer = _build("cwgan_gp", dp_epsilon=None)
    values, labels = _data()
    trainer.train_epoch(values, labels)
    assert trainer.privacy_record(40) is None and not trainer.privacy_exhausted
    assert trainer.dp_steps == 0
