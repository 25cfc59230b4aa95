"""Context-FID (Jeha et al., PSA-GAN, ICLR 2022), the score Diffusion-TS (ICLR 2024) tabulates.

A TS2Vec-style encoder (Yue et al. 2022) is trained on the real set alone with a fixed seed;
both sets are embedded (max over time of the per-step representation) and the value is the
Fréchet distance between Gaussians fitted to the two clouds of embeddings.

The encoder follows TS2Vec's recipe at a size a 2-core CPU trains in seconds: a linear input
projection, timestamps zeroed at random (p = 0.5) during training, residual blocks of two
dilated "same" convolutions (kernel 3, dilation 2^i), and the hierarchical contrastive loss
(instance-wise and temporal contrast between two overlapping random crops of each series,
repeated after each max-pool halving of the time axis), with the encoder's weights averaged
over the training steps. Both sets are min-max scaled by the real set's per-channel range, as
the literature's (already [0, 1]-scaled) data are; long series are cut to one random window
and large sets subsampled (``prepare`` from the GRU scores). Torch is imported only inside
``compute``; every random choice comes from the caller's ``rng`` inside
``torch.random.fork_rng``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthts_core.measured import Measured
from synthts_metrics.posthoc import _single_thread, prepare

# the encoder has trained when its loss over the last tenth of the steps is at most this
# fraction of the chance loss (that of an encoder which cannot tell any two steps apart); an
# untrained encoder sits at or above 1, one trained on white noise near 0.78, on the sines
# near 0.5, on one-channel harmonics near 0.4
MAX_LOSS_VS_CHANCE = 0.9


class ContextFID:
    """Fréchet distance between TS2Vec-style embeddings of the real and synthetic sets.

    Defaults are smaller than Diffusion-TS's encoder (320 output dimensions, 64 hidden
    channels, depth 10, 600 steps of batch 8 on the sines) so one call costs seconds on a
    2-core CPU: 64 output dimensions, 64 hidden channels, depth 5 (six blocks, dilations 1 to
    32: a receptive field of 253 steps, wider than the default window of 128), 300 steps of
    batch 16. Values compare between runs with the same settings and set sizes (the estimate
    is biased upwards by roughly 1/n: two draws of 1000 sines give ~0.04, where published
    tables use 10000 series); against published tables, compare rankings, not digits.
    """

    name = "context_fid"
    report_order = 85  # beside the literature's discriminative score (80)
    description = (
        "Literature protocol (PSA-GAN, Diffusion-TS) Context-FID: Fréchet distance between "
        "Gaussian fits of real and synthetic embeddings from a TS2Vec-style contrastive "
        "encoder trained on the real set (data min-max scaled by the real range; 0 = same "
        "embedding distribution); inconclusive when the encoder did not train or a set has "
        "too few series for its covariance."
    )
    higher_is_better = False
    min_channels = 1
    # one encoder fit per call: pooled like the GRU scores unless per-class values are asked for
    per_class_by_default = False

    def __init__(
        self,
        *,
        iterations: int = 300,
        batch_size: int = 16,
        hidden: int = 64,
        output_dims: int = 64,
        depth: int = 5,
        lr: float = 1e-3,
        max_series: int = 1000,
        max_length: int = 128,
    ) -> None:
        self.iterations = iterations
        self.batch_size = batch_size
        self.hidden = hidden
        self.output_dims = output_dims
        self.depth = depth
        self.lr = lr
        self.max_series = max_series
        self.max_length = max_length

    def compute(
        self, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator
    ) -> Measured:
        r, s = prepare(real, synthetic, rng, max_series=self.max_series, max_length=self.max_length)
        losses, chance, embed_r, embed_s = self._fit_and_embed(r, s, rng)
        value, mean_term = frechet_distance(embed_r, embed_s)
        k = max(1, len(losses) // 10)
        first, last = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
        vs_chance = float(np.mean(losses[-k:] / chance[-k:]))
        extra = {
            "embedding_dim": self.output_dims,
            "n_real": len(r),
            "n_synthetic": len(s),
            "mean_term": round(mean_term, 6),
            "encoder_loss_first": round(first, 4),
            "encoder_loss_last": round(last, 4),
            "encoder_loss_vs_chance": round(vs_chance, 4),
        }
        reason = None
        if not (np.isfinite(losses).all() and math.isfinite(value)):
            reason = "the encoder's training loss or its embeddings went non-finite"
        elif not vs_chance <= MAX_LOSS_VS_CHANCE:
            reason = (
                f"the encoder did not train: its contrastive loss ended at {vs_chance:.2f} of "
                f"chance ({first:.3f} -> {last:.3f} over {len(losses)} steps; needs "
                f"<= {MAX_LOSS_VS_CHANCE}), so its embedding says nothing about the data"
            )
        elif min(len(r), len(s)) <= self.output_dims:
            reason = (
                f"too few series for a {self.output_dims}-dimensional covariance "
                f"({len(r)} real, {len(s)} synthetic; needs more than {self.output_dims} per set)"
            )
        return Measured(value, inconclusive=reason, extra=extra)

    def _fit_and_embed(
        self, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Train on ``real`` (n, L, c): per-step losses, their chance levels, and both sets'
        embeddings."""
        import torch

        seed = int(rng.integers(0, 2**31 - 1))
        batch = min(self.batch_size, len(real))
        picks = [rng.choice(len(real), batch, replace=False) for _ in range(self.iterations)]
        crops = [draw_crops(real.shape[1], batch, rng) for _ in range(self.iterations)]
        chance = np.array([chance_loss(batch, c.right - c.left) for c in crops])
        with torch.random.fork_rng(devices=[]), _single_thread(torch):
            torch.manual_seed(seed)
            encoder = _encoder_class()(real.shape[2], self.hidden, self.output_dims, self.depth)
            averaged = torch.optim.swa_utils.AveragedModel(encoder)
            opt = torch.optim.AdamW(encoder.parameters(), lr=self.lr)
            losses = np.empty(self.iterations)
            for step, (idx, crop) in enumerate(zip(picks, crops, strict=True)):
                view1, view2, keep = crop.views(real[idx])
                out1 = encoder(torch.from_numpy(view1), masked=True)[:, -keep:]
                out2 = encoder(torch.from_numpy(view2), masked=True)[:, :keep]
                loss = hierarchical_contrastive_loss(torch, out1, out2)
                opt.zero_grad()
                loss.backward()
                opt.step()
                averaged.update_parameters(encoder)
                losses[step] = float(loss.detach())
            averaged.eval()
            with torch.no_grad():
                embed = [_embed(torch, averaged, x) for x in (real, synthetic)]
        return losses, chance, embed[0], embed[1]


class Crops:
    """Two overlapping windows of every series in a batch, as TS2Vec draws them.

    View 1 spans [offset + ext_left, offset + right), view 2 [offset + left, offset + ext_right);
    they share ``keep = right - left`` steps, the last ``keep`` of view 1 and the first of view
    2, seen with different context on either side. ``offset`` differs per series."""

    def __init__(
        self, left: int, right: int, ext_left: int, ext_right: int, offsets: np.ndarray
    ) -> None:
        self.left, self.right = left, right
        self.ext_left, self.ext_right = ext_left, ext_right
        self.offsets = offsets

    def views(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        rows = np.arange(len(x))[:, None]
        first = self.offsets[:, None] + np.arange(self.ext_left, self.right)[None, :]
        second = self.offsets[:, None] + np.arange(self.left, self.ext_right)[None, :]
        return (
            np.ascontiguousarray(x[rows, first]),
            np.ascontiguousarray(x[rows, second]),
            self.right - self.left,
        )


def draw_crops(length: int, batch: int, rng: np.random.Generator) -> Crops:
    keep = int(rng.integers(2, length + 1)) if length >= 2 else 1
    left = int(rng.integers(0, length - keep + 1))
    right = left + keep
    ext_left = int(rng.integers(0, left + 1))
    ext_right = int(rng.integers(right, length + 1))
    offsets = rng.integers(-ext_left, length - ext_right + 1, size=batch)
    return Crops(left, right, ext_left, ext_right, offsets)


def hierarchical_contrastive_loss(torch: Any, z1: Any, z2: Any) -> Any:
    """TS2Vec's loss on two views (batch, time, dims) of the same steps: half instance-wise
    contrast (each step's twin among the batch at that step), half temporal contrast (each
    step's twin among the series' other steps), averaged over the time scales obtained by
    max-pooling pairs of steps until one is left."""
    total, levels = 0.0, 0
    while True:
        total = total + 0.5 * _contrast(torch, z1.transpose(0, 1), z2.transpose(0, 1))
        total = total + 0.5 * _contrast(torch, z1, z2)
        levels += 1
        if z1.shape[1] <= 1:
            return total / levels
        z1 = torch.nn.functional.max_pool1d(z1.transpose(1, 2), 2).transpose(1, 2)
        z2 = torch.nn.functional.max_pool1d(z2.transpose(1, 2), 2).transpose(1, 2)


def chance_loss(batch: int, steps: int) -> float:
    """``hierarchical_contrastive_loss`` of an encoder that maps every step to the same vector:
    each twin is one of 2n - 1 equally likely candidates, log(2n - 1) per contrast."""
    total, levels = 0.0, 0
    while True:
        total += 0.5 * math.log(2 * batch - 1) + 0.5 * math.log(max(2 * steps - 1, 1))
        levels += 1
        if steps <= 1:
            return total / levels
        steps //= 2


def _contrast(torch: Any, a: Any, b: Any) -> Any:
    """Cross-entropy of each of the n items in ``a`` (groups, n, dims) picking its twin in
    ``b`` among the other 2n - 1 items of both views (and the same from ``b``'s side)."""
    n = a.shape[1]
    if n < 2:
        return a.new_zeros(())
    z = torch.cat([a, b], dim=1)
    sim = z @ z.transpose(1, 2)
    eye = torch.eye(2 * n, dtype=torch.bool)
    log_p = sim.masked_fill(eye, float("-inf")).log_softmax(dim=-1)
    rows = torch.arange(2 * n)
    return -log_p[:, rows, (rows + n) % (2 * n)].mean()


def _embed(torch: Any, encoder: Any, x: np.ndarray, chunk: int = 256) -> np.ndarray:
    """One vector per series: the per-step representation's maximum over time."""
    parts = [
        encoder(torch.from_numpy(x[i : i + chunk])).amax(dim=1).numpy()
        for i in range(0, len(x), chunk)
    ]
    return np.concatenate(parts).astype(np.float64)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½), the mean term alone) between Gaussian
    fits of the rows of ``a`` and ``b``. The symmetric form keeps the matrix square root real."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mean_term = float(np.sum((mu_a - mu_b) ** 2))
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = float(np.sqrt(np.clip(cross, 0.0, None)).sum())
    value = mean_term + float(np.trace(cov_a) + np.trace(cov_b)) - 2.0 * trace_root
    return max(value, 0.0), mean_term


def _encoder_class() -> type:
    import torch
    from torch import nn
    from torch.nn.functional import gelu

    class Block(nn.Module):
        """Two dilated "same" convolutions, each after a GELU, plus the input (projected by a
        1x1 convolution where the width changes)."""

        def __init__(self, width_in: int, width_out: int, dilation: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(width_in, width_out, 3, padding=dilation, dilation=dilation)
            self.conv2 = nn.Conv1d(width_out, width_out, 3, padding=dilation, dilation=dilation)
            self.skip = nn.Conv1d(width_in, width_out, 1) if width_in != width_out else None

        def forward(self, x: Any) -> Any:
            residual = x if self.skip is None else self.skip(x)
            return self.conv2(gelu(self.conv1(gelu(x)))) + residual

    class Encoder(nn.Module):
        """(batch, time, channels) -> (batch, time, out): per-step representations."""

        def __init__(self, channels: int, hidden: int, out: int, depth: int) -> None:
            super().__init__()
            self.project = nn.Linear(channels, hidden)
            widths = [hidden] * (depth + 1) + [out]  # block i maps widths[i] -> widths[i + 1]
            self.blocks = nn.Sequential(
                *[Block(widths[i], widths[i + 1], 2**i) for i in range(depth + 1)]
            )

        def forward(self, x: Any, masked: bool = False) -> Any:
            h = self.project(x)
            if masked:  # timestamp masking: the encoder must infer a step from its context
                h = h * (torch.rand(h.shape[:2]) < 0.5).unsqueeze(-1)
            return self.blocks(h.transpose(1, 2)).transpose(1, 2)

    return Encoder
