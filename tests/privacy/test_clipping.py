"""One example's influence on a private critic update is bounded by the clipping norm, the
WGAN-GP gradient penalty included.

The bound is checked on ``private_critic_grads``, the function the DP trainer's critic step
sets its gradients with: with the noise at 0, the gradient (times the expected batch size) of a
batch with one more example differs from the batch's own by at most C. The added example is
built so that its penalty's gradient alone is many times C: an implementation that clipped
only the adversarial part (the real and fake scores) and added the penalty's gradient
unclipped, as a DP-GAN that computes the penalty with the per-sample hooks off does, fails
the bound; the test computes that variant too and checks it does fail.
"""

from __future__ import annotations

import pytest
import torch
from synthts_gan.backbones import NetSpec, build_networks
from synthts_gan.private import clipped_grad_sum, private_critic_grads

CLIP = 0.05
GP_WEIGHT = 50.0


def _critic(family: str, conditioning: str = "projection", backbone: str = "mlp"
            ) -> torch.nn.Module:
    spec = NetSpec(family=family, backbone=backbone, latent_dim=8, n_channels=2, length=32,
                   n_classes=3, embed_dim=4, dropout=0.0, conditioning=conditioning,
                   conv_width=8, conv_layers=2)
    return build_networks(spec, 0)[1]


def _batch(b: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, 2, 32, generator=g) * 2 - 1
    y = torch.randint(0, 3, (b,), generator=g)
    fake = torch.rand(b, 2, 32, generator=g) * 2 - 1
    mix = torch.rand(b, generator=g)
    return x, y, fake, mix


def _update(critic: torch.nn.Module, kind: str, x, y, fake, yf, mix) -> torch.Tensor:
    """The flat gradient the optimiser would step with, times the expected batch size (10),
    with no noise."""
    private_critic_grads(critic, kind, x, y, fake, yf, mix, GP_WEIGHT, CLIP, 0.0, 10.0, None)
    flat = torch.cat([p.grad.flatten() * 10.0 for p in critic.parameters()])
    for p in critic.parameters():
        p.grad = None
    return flat


def _plain_grads(critic: torch.nn.Module, x, y, f, e) -> tuple[torch.Tensor, torch.Tensor]:
    """One example's adversarial-loss gradient and its penalty's gradient, by plain autograd."""
    params = list(critic.parameters())
    adv = critic(f[None], y[None]).sum() - critic(x[None], y[None]).sum()
    g_adv = torch.autograd.grad(adv, params, allow_unused=True)
    mixed = (e * x + (1 - e) * f)[None].requires_grad_(True)
    (gx,) = torch.autograd.grad(critic(mixed, y[None]).sum(), mixed, create_graph=True)
    gp = GP_WEIGHT * (gx.flatten().norm() - 1.0).pow(2)
    g_gp = torch.autograd.grad(gp, params, allow_unused=True)

    def flat(gs):
        return torch.cat([(torch.zeros_like(p) if g is None else g).flatten()
                          for p, g in zip(params, gs, strict=True)])

    return flat(g_adv), flat(g_gp)


@pytest.mark.parametrize(("conditioning", "backbone"), [("projection", "mlp"),
                                                         ("concat", "mlp"),
                                                         ("projection", "conv")])
def test_one_examples_influence_is_at_most_the_clipping_norm_penalty_included(
        conditioning: str, backbone: str) -> None:
    critic = _critic("wgan", conditioning, backbone)
    x, y, fake, mix = _batch(9, seed=1)
    # the added example: a series far outside the data, its fake partner near it, so the
    # critic's input gradient at their mix is large and the penalty's gradient huge
    x[-1] = 40.0 * torch.sign(x[-1])
    fake[-1] = 0.9 * x[-1]
    with_it = _update(critic, "wgan", x, y, fake, y, mix)
    without = _update(critic, "wgan", x[:-1], y[:-1], fake[:-1], y[:-1], mix[:-1])
    influence = float((with_it - without).norm())
    assert influence <= CLIP * (1 + 1e-4)

    g_adv, g_gp = _plain_grads(critic, x[-1], y[-1], fake[-1], mix[-1])
    assert float(g_gp.norm()) > 20 * CLIP, "the case must make the penalty's gradient large"
    # the leaky variant: adversarial part clipped per example, penalty added as it is
    leaky = g_adv * min(1.0, CLIP / (float(g_adv.norm()) + 1e-6)) + g_gp
    assert float(leaky.norm()) > 10 * CLIP, "a penalty outside the clipping must fail here"
    # and the clipped sum of that one example is its whole loss's gradient, scaled to C
    whole = g_adv + g_gp
    alone, _ = clipped_grad_sum(critic, "wgan", x[-1:], y[-1:], fake[-1:], y[-1:], mix[-1:],
                                GP_WEIGHT, CLIP)
    alone_flat = torch.cat([alone[n].flatten() for n, _ in critic.named_parameters()])
    assert torch.allclose(alone_flat, whole * CLIP / whole.norm(), rtol=1e-3, atol=1e-7)


def test_every_examples_influence_is_bounded_not_only_an_outliers() -> None:
    """Remove each example of a batch in turn: the update moves by at most C every time."""
    critic = _critic("wgan")
    x, y, fake, mix = _batch(6, seed=2)
    full = _update(critic, "wgan", x, y, fake, y, mix)
    for i in range(len(x)):
        keep = [j for j in range(len(x)) if j != i]
        part = _update(critic, "wgan", x[keep], y[keep], fake[keep], y[keep], mix[keep])
        assert float((full - part).norm()) <= CLIP * (1 + 1e-4)


def test_the_cgan_discriminators_influence_is_bounded() -> None:
    spec = NetSpec(family="cgan", backbone="mlp", latent_dim=8, n_channels=2, length=32,
                   n_classes=3, embed_dim=4, dropout=0.0)
    critic = build_networks(spec, 0)[1]
    x, y, fake, mix = _batch(9, seed=3)
    x[-1] = 50.0
    yf = torch.randint(0, 3, (9,), generator=torch.Generator().manual_seed(4))
    with_it = _update(critic, "cgan", x, y, fake, yf, mix)
    without = _update(critic, "cgan", x[:-1], y[:-1], fake[:-1], yf[:-1], mix[:-1])
    assert float((with_it - without).norm()) <= CLIP * (1 + 1e-4)


def test_the_noise_has_the_planned_scale() -> None:
    """An empty Poisson batch still steps, with noise only: std sigma * C / expected batch."""
    critic = _critic("wgan")
    empty = torch.zeros(0, 2, 32)
    none = torch.zeros(0, dtype=torch.long)
    rng = torch.Generator().manual_seed(5)
    private_critic_grads(critic, "wgan", empty, none, empty, none, torch.zeros(0), GP_WEIGHT,
                         CLIP, noise_std=2.0 * CLIP, expected_batch=4.0, rng=rng)
    grads = torch.cat([p.grad.flatten() for p in critic.parameters()])
    assert float(grads.std()) == pytest.approx(2.0 * CLIP / 4.0, rel=0.02)
    assert abs(float(grads.mean())) < 0.01 * 2.0 * CLIP / 4.0 * 10
