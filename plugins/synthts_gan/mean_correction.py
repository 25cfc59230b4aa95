"""The mean correction (``GanConfig.mean_correction``): every sample gets its class's per-point
gap between the real class mean and the generator's own class mean added.

A GAN leaves each class's mean off by a little, and a strong detector sees that. The real mean
is taken once per training set (over observed points); the generator's is measured on a fixed
draw of latents per class with any per-point noise at 0, by a generator of its own (no trace on
the training or sampling RNG, and the same weights always give the same gap).
"""

from __future__ import annotations

import torch

from synthts_gan.backbones import set_noise_eps
from synthts_gan.config import GanConfig

CORRECTION_VALUES = 2**18  # values per class the generator's class mean is measured on
CORRECTION_SERIES = (64, 256)  # ... as series per class, at least / at most
CHUNK = 4096  # series per generator pass


def class_means(values: torch.Tensor, labels: torch.Tensor | None, k: int,
                mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-class, per-point mean (k, c, L) over observed points (``mask``, 1 = observed;
    ``values`` 0 where it is 0); NaN for a class without series, or without an observed
    value at a point."""
    if mask is not None:
        lab = labels if labels is not None and k > 1 else torch.zeros(
            len(values), dtype=torch.long, device=values.device)
        zero = torch.zeros((k, *values.shape[1:]), device=values.device)
        sums = zero.index_add(0, lab, values.float() * mask)
        return sums / zero.index_add(0, lab, mask.float())  # 0 / 0: NaN, as below
    if labels is None or k == 1:
        return values.float().mean(0, keepdim=True)
    sums = torch.zeros((k, *values.shape[1:]), device=values.device).index_add_(
        0, labels, values.float())
    counts = torch.bincount(labels, minlength=k).to(sums.dtype)[:, None, None]
    return sums / counts  # 0 / 0: NaN, no real mean to match


@torch.no_grad()
def measure_gap(net: torch.nn.Module, real_class_mean: torch.Tensor, config: GanConfig,
                device: torch.device) -> torch.Tensor:
    """The real class mean minus ``net``'s class mean (k, c, L); 0 for a class without real
    series."""
    k = real_class_mean.shape[0]
    low, high = CORRECTION_SERIES
    per_class = int(min(high, max(low, CORRECTION_VALUES // (config.n_channels
                                                               * config.length))))
    labels = torch.arange(k).repeat_interleave(per_class) if config.conditional else None
    z = torch.randn(k * per_class, config.latent_dim,
                    generator=torch.Generator().manual_seed(config.seed + 2))
    net.eval()
    sums = torch.zeros_like(real_class_mean)
    for s in range(0, len(z), CHUNK):
        y = None if labels is None else labels[s:s + CHUNK].to(device)
        zs = z[s:s + CHUNK].to(device)
        if config.noise_inputs:  # the per-point noise at its mean, 0: its share of the
            # output's mean is 0, and leaving it out takes most of the variance out of the
            # estimate (on the harmonics, the noise is 6x the latent's spread)
            set_noise_eps(net, torch.zeros((len(zs), *sums.shape[1:]), device=device))
        out = net(zs, y).float()
        if y is None:
            sums[0] += out.sum(0)
        else:
            sums.index_add_(0, y, out)
    set_noise_eps(net, None)
    net.train()
    return torch.nan_to_num(real_class_mean - sums / per_class, nan=0.0)


def gap_of(gap: torch.Tensor, labels: torch.Tensor | None,
           weights: torch.Tensor | None) -> torch.Tensor:
    """The mean correction for each series: its class's gap, the mix of the classes' gaps for
    soft ``weights``, the one gap of an unconditional model."""
    if labels is not None:
        return gap[labels]
    if weights is not None:
        return (weights @ gap.flatten(1)).view(-1, *gap.shape[1:])
    return gap[0]
