"""The diffusion family learns from series with missing points (#24 part 3): NaN where a point is
missing trains with masked losses (finite losses and weights, complete series generated, long
ones too), a missing point never counts in a loss, and complete data never take the masked path
(so they train exactly as before). Tiny models, a few epochs, no Ray."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthts_diffusion.model import DiffusionModel
from synthts_diffusion.plugin import DiffusionArchitecture

from synthts_core.errors import BadInputError

TINY = {"d_model": 16, "layers": 1, "heads": 2, "batch_size": 8, "sampling_steps": 3,
        "harmonics": 2}


def build(length: int = 32, channels: int = 2, **over) -> DiffusionModel:
    return DiffusionArchitecture().build({**TINY, "length": length, "n_channels": channels,
                                          "n_classes": 2, "seed": 3, "total_epochs": 4, **over})


def two_classes(n: int = 40, length: int = 32, channels: int = 2) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(length) / length
    labels = np.arange(n) % 2
    values = (0.8 * np.sin(2 * np.pi * (labels[:, None, None] + 1) * t)
              + 0.1 * rng.normal(size=(n, channels, length))).astype(np.float32)
    return values, labels


def with_gaps(values: np.ndarray, share: float = 0.2, seed: int = 1) -> np.ndarray:
    out = values.copy()
    out[np.random.default_rng(seed).random(values.shape) < share] = np.nan
    return out


def test_the_architecture_declares_it() -> None:
    assert DiffusionArchitecture.supports_missing is True


def test_a_fifth_of_points_missing_trains_finite_and_generates_complete() -> None:
    values, labels = two_classes()
    gappy = with_gaps(values)
    gappy[5, 1] = np.nan  # a channel missing entirely within one series
    assert 0.15 < np.isnan(gappy).mean() < 0.3
    model = build()
    before = [p.detach().clone() for p in model.net.parameters()]
    for _ in range(4):
        losses = model.train_epoch(gappy, labels)
        assert all(np.isfinite(v) for v in losses.values()), losses
        assert losses["loss"] > 0 and losses["spectral"] > 0
    for net in (model.net, model.ema):
        assert all(bool(torch.isfinite(p).all()) for p in net.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.net.parameters(),
                                                      strict=True))  # it did learn
    for p in model.net.parameters():
        assert p.grad is None or bool(torch.isfinite(p.grad).all())
    out = model.generate(6, labels=np.array([0, 1] * 3), seed=2)
    assert out.shape == (6, 2, 32) and np.isfinite(out).all()
    long = model.generate(2, labels=np.array([0, 1]), seed=2, length=80)
    assert long.shape == (2, 2, 80) and np.isfinite(long).all()
    assert np.isnan(gappy).sum() > 0  # the caller's array is not filled in place


def test_a_missing_point_never_counts_in_a_loss() -> None:
    """Whatever the network says at a missing point leaves both losses and the gradient there
    at zero; the squared error is over the observed points (a residual of 1 at every point
    gives a mean of 1 whatever the share missing, not 0.8)."""
    model = build(noise_weighting="uniform")  # loss weight 1: the mean is plain to read
    values, _ = two_classes(8)
    seen = torch.as_tensor(~np.isnan(with_gaps(values, 0.3)))
    assert not bool(seen.all())
    x0 = torch.as_tensor(values)
    t = torch.full((8,), 0.5)
    x0_hat = (x0 + 1.0).requires_grad_(True)
    mse, spectral = model._masked_losses(x0_hat, x0, t, seen)
    assert float(mse.detach()) == pytest.approx(1.0)
    (mse + spectral).backward()
    assert x0_hat.grad is not None
    assert bool((x0_hat.grad[~seen] == 0).all()) and bool((x0_hat.grad[seen] != 0).any())
    wild = (x0 + 1.0).masked_fill(~seen, 1e6)
    assert torch.equal(torch.stack(model._masked_losses(wild, x0, t, seen)),
                       torch.stack((mse, spectral)).detach())


def test_a_missing_point_of_the_input_gives_no_second_look_at_a_target() -> None:
    """What the network sees at a missing point is drawn from the noised observed points
    around it (and fresh noise), never from clean values: other clean series with the same
    noised observed points give the same input. It varies as much
    as an observed point does (white-noise data, little diffusion noise), where a clean-series
    interpolation would vary about 30 % less."""
    model = build(length=64, channels=1)
    rng = np.random.default_rng(0)
    white = rng.normal(size=(400, 1, 64)).astype(np.float32)
    gappy = with_gaps(white)
    model._to_device(gappy, np.arange(400) % 2)
    idx = torch.arange(400)
    t = torch.full((400,), 0.02)
    x_t = model.schedule.add_noise(model._values, torch.randn(white.shape), t)
    gaps = torch.as_tensor(np.isnan(gappy))
    state = model.rng.get_state()
    seen_by_net = model._noised_gaps(x_t, t, idx)
    model.rng.set_state(state)
    assert model._values is not None
    model._values = model._values + 3.0  # other clean series, the same noised observed points
    other = model._noised_gaps(x_t.masked_fill(gaps, 7.0), t, idx)
    assert torch.equal(seen_by_net, other)
    assert torch.equal(seen_by_net[~gaps], x_t[~gaps])
    inner = gaps.clone()
    inner[..., [0, -1]] = False  # ends copy their one neighbour: no variance to restore
    ratio = float(seen_by_net[inner].std() / seen_by_net[~gaps].std())
    assert 0.93 < ratio < 1.07, ratio
    interpolated = torch.as_tensor(np.stack([np.interp(np.arange(64), np.flatnonzero(~g), v[~g])
                                             for v, g in zip(gappy[:, 0], np.isnan(gappy[:, 0]),
                                                             strict=True)]))
    assert float(interpolated[inner[:, 0]].std()) < 0.85 * float(white[~gaps.numpy()].std())


def test_with_every_point_observed_the_masked_losses_are_the_plain_ones() -> None:
    model = build()
    values, _ = two_classes(8)
    x0 = torch.as_tensor(values)
    x0_hat = x0 + 0.3 * torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    t = torch.linspace(0.1, 0.9, 8)
    mse = (model._loss_weight(t) * (x0_hat - x0).pow(2)).mean()
    spectral = (torch.fft.rfft(x0_hat, norm="ortho")
                - torch.fft.rfft(x0, norm="ortho")).abs().mean()
    got = model._masked_losses(x0_hat, x0, t, torch.ones(x0.shape, dtype=torch.bool))
    torch.testing.assert_close(torch.stack(got), torch.stack((mse, spectral)))


def test_complete_batches_never_take_the_masked_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Complete data run the unmasked losses, the code they ran before missing points were
    supported, and draw nothing more, so they train exactly as before; in a dataset with gaps,
    only the batches that hold one are masked."""
    calls: list[int] = []
    masked = DiffusionModel._masked_losses

    def counting(self, x0_hat, x0, t, seen):
        calls.append(int((~seen).sum()))
        return masked(self, x0_hat, x0, t, seen)

    monkeypatch.setattr(DiffusionModel, "_masked_losses", counting)
    values, labels = two_classes(16)
    plain, again = build(batch_size=4), build(batch_size=4)
    first = [plain.train_epoch(values, labels) for _ in range(3)]
    assert calls == []
    assert [again.train_epoch(values.copy(), labels) for _ in range(3)] == first
    one_gap = values.copy()
    one_gap[0, 0, 7] = np.nan
    gappy = build(batch_size=4)
    losses = [gappy.train_epoch(one_gap, labels) for _ in range(3)]
    assert calls == [1, 1, 1]  # one batch of four an epoch holds series 0
    assert losses != first and all(np.isfinite(v["loss"]) for v in losses)


def test_bad_values_are_refused_naming_the_field() -> None:
    values, labels = two_classes(8)
    model = build()
    broken = values.copy()
    broken[2, 1, 5] = np.inf
    with pytest.raises(BadInputError) as err:
        model.train_epoch(broken, labels)
    assert err.value.field == "values" and "(2, 1, 5)" in str(err.value)
    with pytest.raises(BadInputError) as err:
        model.train_epoch(np.full_like(values, np.nan), labels)
    assert err.value.field == "values" and "observed" in str(err.value)
