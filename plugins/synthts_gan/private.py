"""Differentially private GAN training (DP-SGD on the critic), for ``dp_epsilon``.

Which mechanism, and why. The real series reach a GAN through the critic's loss only: its real
scores and, in a WGAN-GP, the gradient penalty at points between a real and a fake series. Two
ways make that private:

- GS-WGAN (Chen et al. 2020): leave the critic non-private and clip and noise only the gradient
  that flows from the critic into the generator, so the generator never sees real data
  directly.
- DP-SGD on the critic (chosen): each real example's gradient of the *whole* critic loss
  (its real score, its fake partner's score and its gradient penalty) is computed on its own
  with ``torch.func`` (``vmap`` over ``grad``, the penalty's double backward included), clipped
  to ``C`` as one vector, summed, and Gaussian noise of std ``sigma * C`` is added before the
  optimiser step. The generator then learns from the private critic alone, which is
  post-processing.

Why not GS-WGAN here: a version stores its critic's weights with the generator's, and so does
every training checkpoint; with GS-WGAN that critic is trained on raw data and would have to be
dropped or kept secret, while here every saved tensor is covered. GS-WGAN's accounting also
rests on splitting the data over many critics, which is another architecture; DP-SGD keeps the
family's losses, networks and code path, and costs per-example gradients (measured in
benchmarks/privacy_harmonics.py). The penalty is where peers' DP-GANs leak (computed with the
per-sample hooks off, so its gradient of the real data is never clipped); here it is inside each
example's clipped gradient by construction, and tests/privacy checks one example's influence on
the update against ``C`` with a penalty gradient far larger than ``C``.

Batches are Poisson samples (every series in with probability ``q``, independently, each
update), which is what the RDP accountant's subsampled-Gaussian analysis assumes; the noisy sum
is divided by the *expected* batch size ``q * N``, so the batch's actual size is never used.
The conditional WGAN-GP's generator update draws its labels uniformly instead of taking a real
batch's. The critic must not mix examples (no BatchNorm: none of this family's critics has one).

Where the randomness comes from. The guarantee rests on the noise and the Poisson masks being
unknown to whoever reads the model: replayed, the noise can be subtracted from the update and
each batch's members read off. The trial's seed is public (a run param in the tracker) and the
trainer's seeded generator is saved in every checkpoint, so every draw of a critic update (the
mask, the augmentation shifts, the fakes, the penalty's mixing weights, the dropout masks and
the noise) comes from a second generator, ``secret_generator``, seeded from the operating
system's entropy (``secrets``) and never logged nor saved: the counts of those draws follow the
batch sizes, which the seeded generator's saved state would otherwise record. The generator's
own updates, which read no real series, keep the seeded generator. The price, the same as
Opacus's ``secure_mode``: a DP trial is not reproducible bit for bit, not from its seed and not
from a checkpoint (a resumed trial goes on counting its steps and its budget, with fresh noise).

Missing points. The real series hold 0 where a point is missing and each example's fake
partner is seen through that example's own mask (``clipped_grad_sum``'s ``mask``), the
AmbientGAN masking of ``synthts_gan.steps``, inside the example's clipped gradient: one
example's mask reaches no other example's gradient. The generator's updates must score masked
fakes too, but the real masks are private data and reach training only through the clipped
critic step; so there each point of a fake is kept independently with the training set's share
of observed points (one number about the data that the guarantee does not cover:
``MISSING_NOT_COVERED``, added to the record). That matches the critic's view exactly when
points go missing independently at random; for gaps with structure (runs, whole channels) the
generator's view is an approximation.

Settings that work with DP differ from the non-private ones (benchmarks/privacy_harmonics.py):
the noise is added to every critic parameter, so a small critic (conv, narrow) and a large
Poisson batch help, and one critic step per generator step spends the budget where it teaches
most. With that critic ``gp_weight`` had to come down (harmonics at epsilon 10, TSTR/TRTR: 0.2
at 10, 0.89 at 1, 1.0 at 0.1); the same critic without DP fails at 10 too (0.1), so it is not
DP alone, but under DP a large penalty also fills each example's clipped gradient.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from synthts_gan._errors import BadInputError
from synthts_gan.backbones import set_dropout_rng, set_noise_rng
from synthts_gan.epoch_data import circular_shift
from synthts_gan.steps import LOSS_D, LOSS_GNORM, LOSS_GP, StepContext, generator_step

MECHANISM = ("DP-SGD on the critic: per-example gradient of the whole critic loss (WGAN-GP "
             "penalty included, torch.func) clipped to C, Gaussian noise sigma*C, Poisson "
             "sampling; the generator learns from the private critic only")
MISSING_NOT_COVERED = ("the share of missing points (the generator's updates mask their "
                       "fakes at that rate)")
PER_CHUNK_VALUES = 2**24  # per-example gradient values held at once (64 MiB of float32)


def check_critic(critic: nn.Module) -> None:
    """Per-example clipping bounds one example's influence only if the critic scores each
    example on its own: a layer that mixes the batch (BatchNorm) breaks that."""
    for name, module in critic.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            raise BadInputError("dp_epsilon", f"the critic's layer {name!r} mixes the examples "
                                "of a batch, so per-example clipping would not bound one "
                                "example's influence", allowed="a critic without BatchNorm")


def _example_loss(critic: nn.Module, buffers: dict[str, torch.Tensor], kind: str,
                  conditional: bool, gp_weight: float) -> Callable[..., Any]:
    """One real example's critic loss as a function of the critic's parameters.

    ``wgan``: ``D(fake) - D(real) + gp_weight * (||grad_x D(mixed)|| - 1)^2``, the mixed point
    between the example and its fake partner (one fake per real example, as the non-private
    step pairs them). ``cgan``: least squares, ``((D(real) - 1)^2 + D(fake)^2) / 2``. Returns
    (loss, (loss, gp, grad norm)) for the epoch's loss log."""

    def score(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
              ) -> torch.Tensor:
        lab = y[None] if conditional else None
        return functional_call(critic, (params, buffers), (x[None], lab))[0]

    def wgan(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
             f: torch.Tensor, yf: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, Any]:
        d_real, d_fake = score(params, x, y), score(params, f, yf)
        mixed = e * x + (1.0 - e) * f
        g = grad(lambda m: score(params, m, y))(mixed)
        norm = torch.sqrt(g.pow(2).sum() + 1e-12)
        gp = (norm - 1.0).pow(2)
        loss = d_fake - d_real + gp_weight * gp
        return loss, (loss, gp, norm)

    def cgan(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
             f: torch.Tensor, yf: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, Any]:
        d_real, d_fake = score(params, x, y), score(params, f, yf)
        loss = 0.5 * ((d_real - 1.0).pow(2) + d_fake.pow(2))
        zero = torch.zeros_like(loss)
        return loss, (loss, zero, zero)

    if kind not in ("wgan", "cgan"):
        raise ValueError(f"unknown critic loss {kind!r}")
    return wgan if kind == "wgan" else cgan


def clipped_grad_sum(critic: nn.Module, kind: str, real: torch.Tensor,
                     labels: torch.Tensor | None, fake: torch.Tensor,
                     fake_labels: torch.Tensor | None, mix: torch.Tensor, gp_weight: float,
                     max_norm: float, mask: torch.Tensor | None = None
                     ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The sum over the batch of each example's critic-loss gradient clipped to ``max_norm``
    (one L2 norm over all parameters), by parameter name; and the per-example stats summed
    (loss, gp, grad norm). ``real``/``fake`` (b, c, L), ``mix`` (b,) in [0, 1] (the
    penalty's interpolation weights), labels (b,) or None for an unconditional critic.
    ``mask`` (b, c, L), 1 where the real point is observed: each real example is 0 at its
    missing points and its fake partner is seen through the same mask, so the penalty
    interpolates the masked pair. Adding or removing one real example (its mask with it)
    changes the sum by at most ``max_norm``."""
    if mask is not None:
        real = torch.where(mask > 0, real, torch.zeros_like(real))
        fake = fake * mask
    params = {k: p.detach() for k, p in critic.named_parameters()}
    buffers = dict(critic.named_buffers())
    sums = {k: torch.zeros_like(p) for k, p in params.items()}
    stats = torch.zeros(3, device=real.device)
    b = real.shape[0]
    if b == 0:
        return sums, stats
    conditional = labels is not None
    zeros = torch.zeros(b, dtype=torch.long, device=real.device)
    y = labels if labels is not None else zeros
    yf = fake_labels if fake_labels is not None else y
    fn = _example_loss(critic, buffers, kind, conditional, gp_weight)
    per_example = vmap(grad(fn, has_aux=True), in_dims=(None, 0, 0, 0, 0, 0),
                       randomness="different")
    n_values = sum(p.numel() for p in params.values())
    chunk = max(1, min(b, PER_CHUNK_VALUES // max(n_values, 1)))
    for s in range(0, b, chunk):
        part = slice(s, s + chunk)
        grads, aux = per_example(params, real[part], y[part], fake[part], yf[part],
                                 mix[part].reshape(-1, 1, 1))
        norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in grads.values()))
        factor = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for k, g in grads.items():
            sums[k] += torch.tensordot(factor, g, dims=1)
        stats += torch.stack([a.detach().float().sum() for a in aux])
    return sums, stats


def private_critic_grads(critic: nn.Module, kind: str, real: torch.Tensor,
                         labels: torch.Tensor | None, fake: torch.Tensor,
                         fake_labels: torch.Tensor | None, mix: torch.Tensor, gp_weight: float,
                         max_norm: float, noise_std: float, expected_batch: float,
                         rng: torch.Generator | None, mask: torch.Tensor | None = None
                         ) -> torch.Tensor:
    """Set each critic parameter's ``.grad`` to (clipped sum + N(0, noise_std^2)) / expected
    batch size, the DP-SGD gradient the optimiser then steps with. Returns the summed stats
    (``clipped_grad_sum``, ``mask`` included)."""
    sums, stats = clipped_grad_sum(critic, kind, real, labels, fake, fake_labels, mix,
                                   gp_weight, max_norm, mask)
    for name, p in critic.named_parameters():
        noise = torch.randn(p.shape, device=p.device, dtype=p.dtype, generator=rng)
        p.grad = (sums[name] + noise_std * noise) / expected_batch
    return stats


def secret_generator(device: torch.device) -> torch.Generator:
    """A generator for the draws the guarantee rests on (see the module): seeded from the
    operating system's entropy, never from the trial's seed; its state is kept nowhere."""
    rng = torch.Generator(device=device)
    rng.manual_seed(secrets.randbits(63))
    return rng


class PoissonBatches:
    """Each call a Poisson sample of the training set: every series in with probability
    ``rate``, independently (an empty batch is possible, and the update is then noise only).
    ``mask`` (the shape of ``values``, 1 = observed) is drawn and shifted with its series."""

    def __init__(self, values: torch.Tensor, labels: torch.Tensor | None, rate: float,
                 augment: bool, mask: torch.Tensor | None = None) -> None:
        self.values, self.labels, self.rate, self.augment = values, labels, rate, augment
        self.mask = mask

    def draw(self, rng: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        n = self.values.shape[0]
        keep = torch.rand(n, generator=rng, device=self.values.device) < self.rate
        idx = keep.nonzero().squeeze(1)
        x = self.values.index_select(0, idx)
        m = None if self.mask is None else self.mask.index_select(0, idx)
        if self.augment and len(idx):
            shifts = torch.randint(0, x.shape[-1], (len(idx),), generator=rng, device=x.device)
            x = circular_shift(x, shifts)
            m = None if m is None else circular_shift(m, shifts)
        y = None if self.labels is None else self.labels.index_select(0, idx)
        return x, y, m


class DpStep:
    """The plan one DP trainer steps with: noise std ``sigma * C``, the expected batch size
    ``q * N``, the critic-update kind, and ``secret``, the generator every critic update draws
    from (``secret_generator``)."""

    def __init__(self, kind: str, batches: PoissonBatches, noise_multiplier: float,
                 max_norm: float, generator_batch: int, secret: torch.Generator) -> None:
        self.kind = kind
        self.secret = secret
        self.batches = batches
        self.noise_std = float(noise_multiplier) * float(max_norm)
        self.max_norm = float(max_norm)
        self.expected = batches.rate * batches.values.shape[0]
        self.generator_batch = generator_batch
        # the generator's updates keep each point of a fake with this probability (None:
        # complete data, no masking); see the module's note on missing points
        self.observed_share = None if batches.mask is None else float(batches.mask.mean())


def _fakes(ctx: StepContext, n: int, labels: torch.Tensor | None, like: torch.Tensor,
           rng: torch.Generator) -> torch.Tensor:
    """``n`` fakes without a graph; at least 2 are drawn (the generator's BatchNorm needs 2)."""
    m = max(n, 2)
    if labels is not None and len(labels) < m:
        labels = torch.cat((labels, torch.zeros(m - len(labels), dtype=labels.dtype,
                                                device=labels.device)))
    z = torch.randn(m, ctx.latent_dim, device=like.device, generator=rng)
    with torch.no_grad(), ctx.amp():
        return ctx.gen(z, labels).float()[:n]


def _random_labels(ctx: StepContext, n: int, like: torch.Tensor,
                   rng: torch.Generator) -> torch.Tensor | None:
    if ctx.n_classes <= 0:
        return None
    return torch.randint(0, ctx.n_classes, (n,), device=like.device, generator=rng)


def _critic_update(ctx: StepContext, dp: DpStep, acc: torch.Tensor, gp_weight: float,
                   public: torch.Generator, weight: float) -> None:
    """One private critic update, every draw from ``dp.secret`` (the networks' dropout and
    noise inputs included, handed back to the ``public`` generator after)."""
    rng = dp.secret
    set_dropout_rng(ctx.critic, rng)
    set_noise_rng(ctx.gen, rng)
    try:
        _private_critic_step(ctx, dp, acc, gp_weight, rng, weight)
    finally:
        set_dropout_rng(ctx.critic, public)
        set_noise_rng(ctx.gen, public)


def _private_critic_step(ctx: StepContext, dp: DpStep, acc: torch.Tensor, gp_weight: float,
                         rng: torch.Generator, weight: float) -> None:
    x, y, m = dp.batches.draw(rng)
    b = x.shape[0]
    cond = ctx.n_classes > 0
    # WGAN-GP: the fake partner has the example's label (as the non-private step); C-GAN: a
    # random one (the seed's)
    fake_labels = y if dp.kind == "wgan" else _random_labels(ctx, b, x, rng)
    fake = _fakes(ctx, b, fake_labels if cond else None, dp.batches.values, rng)
    mix = torch.rand(b, device=x.device, generator=rng)
    stats = private_critic_grads(ctx.critic, dp.kind, x, y if cond else None, fake,
                                 fake_labels if cond else None, mix, gp_weight, dp.max_norm,
                                 dp.noise_std, dp.expected, rng, m)
    ctx.opt_d.step()
    ctx.opt_d.zero_grad(set_to_none=True)
    # the logged losses, on the batch's own size (a diagnostic, not private: see the module)
    loss_d, gp, gnorm = (stats / max(b, 1)).unbind()
    acc[LOSS_D].add_(loss_d, alpha=weight)
    if dp.kind == "wgan":
        acc[LOSS_GP].add_(gp, alpha=weight)
        acc[LOSS_GNORM].add_(gnorm, alpha=weight)


def _generator_update(ctx: StepContext, dp: DpStep, acc: torch.Tensor,
                      rng: torch.Generator) -> None:
    """From the private critic alone; labels drawn uniformly, never a real batch's; with
    missing points, each point of a fake kept with the set's observed share (the module)."""
    b = dp.generator_batch
    like = dp.batches.values
    y = _random_labels(ctx, b, like, rng)
    ctx.critic.requires_grad_(False)
    z = torch.randn(b, ctx.latent_dim, device=like.device, generator=rng)
    with ctx.amp():
        fake = ctx.gen(z, y)
        if dp.observed_share is not None:
            keep = torch.rand(fake.shape, device=fake.device, generator=rng)
            fake = fake * (keep < dp.observed_share).to(fake.dtype)
        scores = ctx.critic(fake, y).float()
    loss_g = -scores.mean() if dp.kind == "wgan" else F.mse_loss(scores, torch.ones_like(scores))
    generator_step(ctx, loss_g, acc)


def dp_block(ctx: StepContext, dp: DpStep, block: int, acc: torch.Tensor, gp_weight: float,
             rng: torch.Generator) -> None:
    """WGAN-GP: ``block`` private critic updates, then one generator update. C-GAN: one
    generator update, then one private discriminator update (the seed's order). ``rng`` (the
    trainer's seeded generator) serves the generator updates only."""
    if dp.kind == "wgan":
        for _ in range(block):
            _critic_update(ctx, dp, acc, gp_weight, rng, 1.0 / block)
        _generator_update(ctx, dp, acc, rng)
    else:
        _generator_update(ctx, dp, acc, rng)
        _critic_update(ctx, dp, acc, gp_weight, rng, 1.0)
