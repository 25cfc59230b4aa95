"""The GAN family's DP training (synthts_gan.private) as a trainer: the noise is set to spend
the target in the planned steps, the trainer stops at its budget, a checkpoint carries the
steps taken, and what cannot be private is refused."""

from __future__ import annotations

import numpy as np
import pytest
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
    # the same steps, noise and batches: exactly the same weights as without the interruption
    assert resumed.dp_steps == first.dp_steps
    np.testing.assert_array_equal(resumed.generate(4, labels=np.array([0, 1, 0, 1]), seed=1),
                                  first.generate(4, labels=np.array([0, 1, 0, 1]), seed=1))
    assert resumed.privacy_record(40).epsilon == first.privacy_record(40).epsilon


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
