"""Training steps: one *block* = the updates made from ``block`` real batches.

WGAN-GP: ``n_critic`` critic updates (one per batch), then one generator update (the seed's
5:1 schedule). C-GAN: one generator then one discriminator update per batch, least-squares loss
(the seed's order). A step never reads a value back to the host: losses are added into a
device tensor ``acc`` so a whole epoch costs one sync, and the same Python code can be captured
as a CUDA graph. Randomness comes from ``rng`` (``None`` = the device's default generator,
which is what a CUDA graph capture needs).

Missing points (AmbientGAN, Bora et al. 2018). With ``mask`` (1 observed, 0 missing, the
shape of ``real``) the real batch holds 0 at its missing points, and every fake the critic
scores gets a real series' mask before it is scored: the WGAN-GP's fakes the mask of the real
series at their own position (generated for its label), the C-GAN's fakes (random labels) that
of a real series of their class (``partner_masks``). Real and fake are then seen through the
same measurement, so which points are missing tells the critic nothing, and the generator,
whose whole output is judged through random masks, learns the complete series. The gradient
penalty interpolates the masked pair; the generator's loss goes through the masked critic; the
moment loss compares complete fakes with real statistics taken over observed points
(``synthts_gan.moments``). The critic gets no mask channel: both sides of every pair carry the
same mask, so the channel could carry no real-or-fake information, and it would change the
critic's weights (a model trained with and without missing points would no longer share a
layout). Without ``mask`` not one operation differs from the complete-data step, and a mask of
ones gives the same numbers (a product with 1 is exact; ``partner_masks`` draws nothing).
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
                 autocast: AbstractContextManager | None = None,
                 gen_ema: nn.Module | None = None, ema_decay: float = 0.0) -> None:
        self.gen, self.critic = gen, critic
        self.opt_g, self.opt_d = opt_g, opt_d
        self.latent_dim = latent_dim
        self.n_classes = n_classes
        self._autocast = autocast
        self.gen_ema = gen_ema
        self.ema_decay = ema_decay
        # per-class, per-point mean and std of the real set (k, c, L), for the moment loss
        self.moment_weight = 0.0
        self.class_mean: torch.Tensor | None = None
        self.class_std: torch.Tensor | None = None
        if gen_ema is not None:
            self._ema_params = list(gen_ema.parameters())
            self._live_params = list(gen.parameters())
            self._ema_buffers = list(gen_ema.buffers())
            self._live_buffers = list(gen.buffers())

    def update_ema(self) -> None:
        """Move the averaged generator a step towards the live one (after each generator
        update); BatchNorm statistics are copied, not averaged. The decay warms up as
        ``min(ema_decay, (1 + t) / (10 + t))`` over the generator's update count ``t``: a
        fixed 0.999 would still carry the first, untrained weights after a short run (1,250
        updates on the sines benchmark: discriminative 0.36 instead of 0.05). ``t`` is Adam's
        own step tensor, so the warm-up survives a checkpoint and runs inside a CUDA graph."""
        if self.gen_ema is None:
            return
        with torch.no_grad():
            t = self.opt_g.state[self._live_params[0]]["step"]
            weight = 1.0 - torch.clamp((1.0 + t) / (10.0 + t), max=self.ema_decay)
            torch._foreach_lerp_(self._ema_params, self._live_params,
                                 weight.to(self._ema_params[0].device))
            for e, b in zip(self._ema_buffers, self._live_buffers, strict=True):
                e.copy_(b)

    def amp(self) -> AbstractContextManager:
        return self._autocast if self._autocast is not None else nullcontext()


def _noise(ctx: StepContext, n: int, like: torch.Tensor, rng: torch.Generator | None):
    return torch.randn(n, ctx.latent_dim, device=like.device, generator=rng)


def moment_loss(ctx: StepContext, fake: torch.Tensor, labels: torch.Tensor | None
                ) -> torch.Tensor:
    """TimeGAN's moment loss made class-conditional, centred and unbiased. Each fake series
    and its first differences are standardised with their class's per-point real mean and std;
    within each class the standardised values should have mean 0 and variance 1 at every point
    (pooled over classes, errors of opposite sign would cancel). The variance is centred on
    the batch's own mean: a second moment taken around the real mean would let the generator
    pay for a mean error with less spread, which collapses diversity. A squared error of a batch
    estimate is biased by the estimate's variance, which would shrink the noise (with a few
    series per class, by a fifth); so the batch is split in two halves, each half's variance
    is the unbiased (n - 1) one, and the loss is the product of the two halves' errors, whose
    expectation is the squared error of the true moments and nothing else. A class needs two
    series in each half to count. The critic still judges everything the moments miss."""
    assert ctx.class_mean is not None and ctx.class_std is not None
    k = ctx.class_mean.shape[0]
    idx = labels if labels is not None and k > 1 else torch.zeros(
        fake.shape[0], dtype=torch.long, device=fake.device)
    x = fake.float()
    # the series and its increments: per-point std alone is also met by smooth wiggles, the
    # increments' std is what tells white noise from them
    x = torch.cat((x, x.diff(dim=-1)), dim=-1)
    r = (x - ctx.class_mean[idx]) / ctx.class_std[idx]
    halves = []
    for part in (slice(0, None, 2), slice(1, None, 2)):
        i, v = idx[part], r[part]
        ones = torch.ones_like(i, dtype=x.dtype)
        counts = torch.zeros(k, device=x.device, dtype=x.dtype).index_add_(0, i, ones)
        n = counts.clamp(min=1.0)[:, None, None]
        first = torch.zeros((k, *r.shape[1:]), device=x.device).index_add_(0, i, v) / n
        second = torch.zeros((k, *r.shape[1:]), device=x.device).index_add_(0, i, v * v) / n
        var = (second - first * first) * n / (n - 1.0).clamp(min=1.0)
        halves.append((counts, first, var - 1.0))
    (c_a, m_a, s_a), (c_b, m_b, s_b) = halves
    both = ((c_a > 1) & (c_b > 1)).to(x.dtype)
    per_class = (m_a * m_b + s_a * s_b).mean(dim=(1, 2))
    weight = both * (c_a + c_b)
    return (per_class * weight).sum() / weight.sum().clamp(min=1.0)


def partner_masks(mask: torch.Tensor, real_labels: torch.Tensor, fake_labels: torch.Tensor
                  ) -> torch.Tensor:
    """A mask (B, c, L) for each fake of a batch: that of the first real series of the fake's
    class at or after the fake's own position (cyclically), the fake's own position when no
    real series of its class is in the batch. The batch is a random draw, so this is a random
    series of the class; it is picked without the RNG, so masking leaves every draw of the run
    where it was."""
    b = mask.shape[0]
    pos = torch.arange(b, device=mask.device)
    ahead = (pos[None, :] - pos[:, None]).remainder(b)  # [fake i, real j]: j - i mod b
    same = real_labels[None, :] == fake_labels[:, None]
    return mask.index_select(0, torch.where(same, ahead, ahead + b).argmin(1))


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
                  acc: torch.Tensor, gp_weight: float, rng: torch.Generator | None,
                  mask: torch.Tensor | None = None) -> None:
    """``real`` (k, B, c, L): k critic updates, then one generator update. ``mask`` (the
    shape of ``real``, 1 = observed; ``real`` 0 where it is 0): each fake is seen through the
    mask of the real series at its position (the module's note on missing points)."""
    k, b = real.shape[0], real.shape[1]
    cond = ctx.n_classes > 0
    ctx.critic.requires_grad_(True)
    for j in range(k):
        x = real[j]
        y = labels[j] if cond else None
        with torch.no_grad(), ctx.amp():
            fake = ctx.gen(_noise(ctx, b, x, rng), y).float()
        if mask is not None:
            fake = fake * mask[j]
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
        seen = fake if mask is None else fake * mask[k - 1]
        loss_g = -ctx.critic(seen, y).float().mean()
    if ctx.moment_weight > 0:
        loss_g = loss_g + ctx.moment_weight * moment_loss(ctx, fake, y)
    generator_step(ctx, loss_g, acc)


def generator_step(ctx: StepContext, loss_g: torch.Tensor, acc: torch.Tensor) -> None:
    """One generator update from ``loss_g`` (the critic frozen by the caller), the averaged
    weights after it, the critic trainable again, the loss accumulated."""
    ctx.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    ctx.opt_g.step()
    ctx.update_ema()
    ctx.critic.requires_grad_(True)
    acc[LOSS_G].add_(loss_g.detach())


def cgan_block(ctx: StepContext, real: torch.Tensor, labels: torch.Tensor | None,
               acc: torch.Tensor, gp_weight: float, rng: torch.Generator | None,
               mask: torch.Tensor | None = None) -> None:
    """``real`` (1, B, c, L): generator update on random labels, then discriminator update on
    real and fake, least-squares targets 1 / 0 (the seed's order). The discriminator scores the
    fakes once for both updates: its weights do not change in between, so the seed's second
    pass over ``fake.detach()`` only redrew the dropout masks. ``mask`` (1, B, c, L): each
    fake is scored through the mask of a real series of its class (``partner_masks``)."""
    x = real[0]
    b = x.shape[0]
    y_real = labels[0] if labels is not None else torch.zeros(b, dtype=torch.long,
                                                              device=x.device)
    y_fake = torch.randint(0, max(ctx.n_classes, 1), (b,), device=x.device, generator=rng)
    ones = torch.ones(b, device=x.device)
    with ctx.amp():
        fake = ctx.gen(_noise(ctx, b, x, rng), y_fake)
        seen = fake if mask is None else fake * partner_masks(mask[0], y_real, y_fake)
        scores = ctx.critic(torch.cat((seen, x)), torch.cat((y_fake, y_real))).float()
    s_fake, s_real = scores.split(b)
    loss_g = F.mse_loss(s_fake, ones)
    if ctx.moment_weight > 0:
        loss_g = loss_g + ctx.moment_weight * moment_loss(ctx, fake, y_fake)
    ctx.opt_g.zero_grad(set_to_none=True)
    loss_g.backward(inputs=list(ctx.gen.parameters()), retain_graph=True)
    loss_d = 0.5 * (F.mse_loss(s_real, ones) + F.mse_loss(s_fake, torch.zeros_like(ones)))
    ctx.opt_d.zero_grad(set_to_none=True)
    loss_d.backward(inputs=list(ctx.critic.parameters()))
    ctx.opt_g.step()
    ctx.opt_d.step()
    ctx.update_ema()
    acc[LOSS_D].add_(loss_d.detach())
    acc[LOSS_G].add_(loss_g.detach())
