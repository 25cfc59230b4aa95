"""Training steps: one *block* = the updates made from ``block`` real batches.

WGAN-GP: ``n_critic`` critic updates (one per batch), then one generator update (the seed's
5:1 schedule). C-GAN: one generator then one discriminator update per batch, least-squares loss
(the seed's order). A step never reads a value back to the host: losses are added into a
device tensor ``acc`` so a whole epoch costs one sync, and the same Python code can be captured
as a CUDA graph. Randomness comes from ``rng`` (``None`` = the device's default generator,
which is what a CUDA graph capture needs).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn
from torch.nn import functional as F

# indices into the loss accumulator
LOSS_D, LOSS_G, LOSS_GP, LOSS_GNORM = 0, 1, 2, 3
LOSS_NAMES = ("loss_d", "loss_g", "gp", "grad_norm")


class StepContext:
    """Everything a step needs besides the data."""

    def __init__(self, gen: nn.Module, critic: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, latent_dim: int, n_classes: int,
                 autocast: AbstractContextManager | None = None) -> None:
        self.gen, self.critic = gen, critic
        self.opt_g, self.opt_d = opt_g, opt_d
        self.latent_dim = latent_dim
        self.n_classes = n_classes
        self._autocast = autocast

    def amp(self) -> AbstractContextManager:
        return self._autocast if self._autocast is not None else nullcontext()


def _noise(ctx: StepContext, n: int, like: torch.Tensor, rng: torch.Generator | None):
    return torch.randn(n, ctx.latent_dim, device=like.device, generator=rng)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     labels: torch.Tensor | None, rng: torch.Generator | None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (||grad||-1)^2, mean ||grad||) at random points between real and fake series."""
    eps = torch.rand(real.shape[0], 1, 1, device=real.device, generator=rng)
    mixed = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    score = critic(mixed, labels)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + 1e-12)
    return (norm - 1.0).pow(2).mean(), norm.detach().mean()


def wgan_gp_block(ctx: StepContext, real: torch.Tensor, labels: torch.Tensor | None,
                  acc: torch.Tensor, gp_weight: float, rng: torch.Generator | None) -> None:
    """``real`` (k, B, c, L): k critic updates, then one generator update."""
    k, b = real.shape[0], real.shape[1]
    cond = ctx.n_classes > 0
    ctx.critic.requires_grad_(True)
    for j in range(k):
        x = real[j]
        y = labels[j] if cond else None
        with torch.no_grad(), ctx.amp():
            fake = ctx.gen(_noise(ctx, b, x, rng), y).float()
        with ctx.amp():
            scores = ctx.critic(torch.cat((x, fake)), None if y is None else torch.cat((y, y)))
        d_real, d_fake = scores.float().split(b)
        gp, gnorm = gradient_penalty(ctx.critic, x, fake, y, rng)
        loss_d = d_fake.mean() - d_real.mean() + gp_weight * gp
        ctx.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        ctx.opt_d.step()
        acc[LOSS_D].add_(loss_d.detach(), alpha=1.0 / k)
        acc[LOSS_GP].add_(gp.detach(), alpha=1.0 / k)
        acc[LOSS_GNORM].add_(gnorm, alpha=1.0 / k)
    ctx.critic.requires_grad_(False)
    y = labels[k - 1] if cond else None
    with ctx.amp():
        fake = ctx.gen(_noise(ctx, b, real, rng), y)
        loss_g = -ctx.critic(fake, y).float().mean()
    ctx.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    ctx.opt_g.step()
    ctx.critic.requires_grad_(True)
    acc[LOSS_G].add_(loss_g.detach())


def cgan_block(ctx: StepContext, real: torch.Tensor, labels: torch.Tensor | None,
               acc: torch.Tensor, gp_weight: float, rng: torch.Generator | None) -> None:
    """``real`` (1, B, c, L): generator update on random labels, then discriminator update on
    real and fake, least-squares targets 1 / 0 (the seed's order). The discriminator scores the
    fakes once for both updates: its weights do not change in between, so the seed's second
    pass over ``fake.detach()`` only redrew the dropout masks."""
    x = real[0]
    b = x.shape[0]
    y_real = labels[0] if labels is not None else torch.zeros(b, dtype=torch.long,
                                                              device=x.device)
    y_fake = torch.randint(0, max(ctx.n_classes, 1), (b,), device=x.device, generator=rng)
    ones = torch.ones(b, device=x.device)
    with ctx.amp():
        fake = ctx.gen(_noise(ctx, b, x, rng), y_fake)
        scores = ctx.critic(torch.cat((fake, x)), torch.cat((y_fake, y_real))).float()
    s_fake, s_real = scores.split(b)
    loss_g = F.mse_loss(s_fake, ones)
    ctx.opt_g.zero_grad(set_to_none=True)
    loss_g.backward(inputs=list(ctx.gen.parameters()), retain_graph=True)
    loss_d = 0.5 * (F.mse_loss(s_real, ones) + F.mse_loss(s_fake, torch.zeros_like(ones)))
    ctx.opt_d.zero_grad(set_to_none=True)
    loss_d.backward(inputs=list(ctx.critic.parameters()))
    ctx.opt_g.step()
    ctx.opt_d.step()
    acc[LOSS_D].add_(loss_d.detach())
    acc[LOSS_G].add_(loss_g.detach())
