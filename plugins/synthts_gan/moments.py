"""The real statistics the moment loss compares generated series with (TimeGAN's, per class):
per class, the per-point mean and std of the series and of their increments.

A class with fewer than 2 series (the C-GAN may still draw it) takes the pooled statistics.
With missing points they are taken over observed points only (an increment counts where both
its points are observed); a class with fewer than 2 observations at a point takes the pooled
statistics there, and a point with fewer than 2 in the whole set gets mean 0 and the floor's
std (the loss is then weak there, never NaN). The std is floored at 1e-3 of the largest value.
"""

from __future__ import annotations

import torch


def class_moments(values: torch.Tensor, labels: torch.Tensor | None,
                  mask: torch.Tensor | None, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std), each (k, c, 2L - 1), of ``values`` (n, c, L; 0 where ``mask`` is 0) per
    class of ``labels`` (``k`` classes; None: one)."""
    if mask is not None:
        return _observed_moments(values, labels, mask, k)
    lab = labels if labels is not None else torch.zeros(
        len(values), dtype=torch.long, device=values.device)
    means, stds = [], []
    for c in range(k):
        x = values[lab == c]
        if len(x) < 2:  # a class without series: pooled
            x = values
        x = torch.cat((x, x.diff(dim=-1)), dim=-1)
        means.append(x.mean(0))
        stds.append(x.std(0))
    return torch.stack(means), torch.stack(stds).clamp(min=_floor(values))


def _observed_moments(values: torch.Tensor, labels: torch.Tensor | None, mask: torch.Tensor,
                      k: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, m = values.float(), mask.float()
    x = torch.cat((x, x.diff(dim=-1)), dim=-1)
    m = torch.cat((m, m[..., 1:] * m[..., :-1]), dim=-1)
    lab = labels if labels is not None and k > 1 else torch.zeros(
        len(x), dtype=torch.long, device=values.device)

    def stats(w: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = w.clamp(min=1.0)
        mean = s1 / n
        var = (s2 - n * mean * mean).clamp(min=0.0) / (n - 1.0).clamp(min=1.0)
        return w, mean, var.sqrt()

    def sums(index: torch.Tensor, groups: int) -> tuple[torch.Tensor, ...]:
        shape = (groups, *x.shape[1:])
        zero = torch.zeros(shape, device=x.device)
        return (zero.index_add(0, index, m), zero.index_add(0, index, m * x),
                zero.index_add(0, index, m * x * x))

    pooled_n, pooled_mean, pooled_std = stats(*sums(torch.zeros_like(lab), 1))
    count, mean, std = stats(*sums(lab, k))
    enough = count >= 2
    pooled_ok = pooled_n >= 2
    mean = torch.where(enough, mean, torch.where(pooled_ok, pooled_mean, 0.0))
    std = torch.where(enough, std, torch.where(pooled_ok, pooled_std, 0.0))
    return mean, std.clamp(min=_floor(values))


def _floor(values: torch.Tensor) -> float:
    """The smallest std: 1e-3 of the set's largest absolute value."""
    return 1e-3 * float(values.abs().max().clamp(min=1e-6))
