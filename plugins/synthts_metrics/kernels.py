"""Random convolutional kernel features (after ROCKET / MiniRocket, Dempster et al. 2020, 2021).

Each kernel is nine mean-centred random weights over a random subset of the channels, with an
exponentially spread dilation and "same" padding; its bias is a random quantile of its own
response on reference series, so every feature sits where it varies. Each kernel gives two
features per series: the proportion of positive values (PPV) of response minus bias, and the
response's maximum. PPV at a high-frequency kernel reacts to the noise level, at a low-frequency
one to shape and phase; the maxima react to amplitude. Inputs are standardised with the
reference set's per-channel mean and std (one affine map for both sets, so differences in level
and scale stay visible).

Kernels are drawn from the caller's ``numpy`` generator; the convolutions run in torch (float32,
CPU or whatever tensor device is given) in chunks of series so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KERNEL_SIZE = 9
CHUNK = 256  # series per convolution call


@dataclass
class KernelBank:
    """Kernels grouped by dilation: ``weights[d]`` (k_d, channels, 9), ``biases[d]`` (k_d,)."""

    dilations: list[int]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    mean: np.ndarray  # (channels,) standardisation of the inputs
    std: np.ndarray

    @property
    def n_features(self) -> int:
        return 2 * sum(len(b) for b in self.biases)


def _dilations(length: int, n_kernels: int, rng: np.random.Generator) -> np.ndarray:
    top = max(0.0, np.log2(max(length - 1, 1) / (KERNEL_SIZE - 1)))
    return np.floor(2.0 ** rng.uniform(0.0, top, size=n_kernels)).astype(int).clip(1)


def fit_kernels(reference: np.ndarray, n_kernels: int, rng: np.random.Generator,
                bias_series: int = 32) -> KernelBank:
    """Draw ``n_kernels`` kernels for series shaped like ``reference`` (n, c, L) and set their
    biases from up to ``bias_series`` reference series."""
    import torch

    n, channels, length = reference.shape
    mean = reference.mean(axis=(0, 2))
    std = reference.std(axis=(0, 2))
    std = np.where(std > 1e-12, std, 1.0)
    dil = _dilations(length, n_kernels, rng)
    w = rng.normal(size=(n_kernels, channels, KERNEL_SIZE))
    if channels > 1:  # each kernel reads a random, non-empty subset of the channels
        k_ch = rng.integers(1, channels + 1, size=n_kernels)
        mask = np.zeros((n_kernels, channels))
        for i, k in enumerate(k_ch):
            mask[i, rng.choice(channels, size=k, replace=False)] = 1.0
        w *= mask[:, :, None]
    w -= w.mean(axis=2, keepdims=True)
    quantiles = rng.uniform(0.1, 0.9, size=n_kernels)
    ref = reference[rng.choice(n, size=min(n, bias_series), replace=False)]
    x = torch.from_numpy(((ref - mean[None, :, None]) / std[None, :, None]).astype(np.float32))
    bank = KernelBank([], [], [], mean.astype(np.float32), std.astype(np.float32))
    for d in np.unique(dil):
        idx = np.flatnonzero(dil == d)
        wd = w[idx].astype(np.float32)
        out = _conv(torch, x, wd, int(d)).numpy()  # (m, k_d, L)
        per_kernel = out.transpose(1, 0, 2).reshape(len(idx), -1)
        b = np.array([np.quantile(per_kernel[j], quantiles[i])
                      for j, i in enumerate(idx)], np.float32)
        bank.dilations.append(int(d))
        bank.weights.append(wd)
        bank.biases.append(b)
    return bank


def _conv(torch, x, weights: np.ndarray, dilation: int):
    pad = (KERNEL_SIZE - 1) * dilation // 2
    return torch.nn.functional.conv1d(x, torch.from_numpy(weights), padding=pad,
                                      dilation=dilation)


def transform(bank: KernelBank, x: np.ndarray) -> np.ndarray:
    """(n, c, L) -> (n, 2 * n_kernels) float64 features: [PPV..., max...]."""
    import torch

    z = ((x - bank.mean[None, :, None]) / bank.std[None, :, None]).astype(np.float32)
    ppv, mx = [], []
    with torch.no_grad():
        for s in range(0, len(z), CHUNK):
            xt = torch.from_numpy(np.ascontiguousarray(z[s:s + CHUNK]))
            p_parts, m_parts = [], []
            for d, wd, b in zip(bank.dilations, bank.weights, bank.biases, strict=True):
                out = _conv(torch, xt, wd, d)
                p_parts.append((out > torch.from_numpy(b)[None, :, None]).float().mean(-1))
                m_parts.append(out.amax(-1))
            ppv.append(torch.cat(p_parts, 1).numpy())
            mx.append(torch.cat(m_parts, 1).numpy())
    return np.concatenate([np.concatenate(ppv), np.concatenate(mx)], axis=1).astype(np.float64)
