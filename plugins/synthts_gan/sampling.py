"""Drawing series from a trained generator: the inputs of ``GanTrainer.generate`` checked and
drawn, and the generator run over them in chunks.

Everything random is drawn on the CPU from one generator seeded by the request (latents first,
then labels, then the seed of the per-point noise), so a seed gives the same series on every
device, and a request batched with others gets the series it gets alone (``draw_noise``).
"""

from __future__ import annotations

import numpy as np
import torch

from synthts_gan._errors import BadInputError
from synthts_gan.backbones import set_noise_eps, set_noise_rng
from synthts_gan.config import GanConfig
from synthts_gan.mean_correction import gap_of


def sampling_rng(config: GanConfig, seed: int | None) -> torch.Generator:
    """The CPU generator a draw takes its latents (then labels, then noise) from."""
    return torch.Generator().manual_seed(config.seed + 1 if seed is None else seed)


def noise_generator(rng: torch.Generator, device: torch.device) -> torch.Generator:
    """The per-point noise's generator on ``device``, seeded from ``rng``."""
    noise_rng = torch.Generator(device=device)
    noise_rng.manual_seed(int(torch.randint(0, 2**62, (1,), generator=rng)))
    return noise_rng


def check_noise(noise: np.ndarray | None, n: int, config: GanConfig) -> torch.Tensor | None:
    """Given per-point noise as a tensor: only for a ``noise_inputs`` generator, (n, c, L)."""
    if noise is None:
        return None
    shape = (n, config.n_channels, config.length)
    noise_t = torch.as_tensor(np.asarray(noise, np.float32))
    if not config.noise_inputs:
        raise BadInputError("noise", "this generator draws no noise of its own",
                            allowed="no noise")
    if tuple(noise_t.shape) != shape:
        raise BadInputError("noise", f"got shape {tuple(noise_t.shape)}: the per-point "
                            "noise must be (n, n_channels, length)", allowed=f"shape {shape}")
    return noise_t


def latents(n: int, latent_dim: int, z: np.ndarray | None, rng: torch.Generator
            ) -> torch.Tensor:
    """``z`` checked to be (n, latent_dim), or drawn from ``rng``."""
    if z is None:
        return torch.randn(n, latent_dim, generator=rng)
    zt = torch.as_tensor(np.asarray(z, np.float32))
    if zt.shape != (n, latent_dim):
        raise BadInputError("z", f"got shape {tuple(zt.shape)}: z must be (n, latent_dim)",
                            allowed=f"shape ({n}, {latent_dim})")
    return zt


def conditioning(n: int, config: GanConfig, n_classes: int, labels: np.ndarray | None,
                 label_weights: np.ndarray | None, rng: torch.Generator
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(labels, label weights) of a draw, one of them None: soft ``label_weights`` (n, k),
    else hard ``labels`` (n class indices), else labels drawn uniformly from ``rng``; both None
    for an unconditional model, which refuses either."""
    if not config.conditional:
        if labels is not None or label_weights is not None:
            raise BadInputError("labels" if labels is not None else "label_weights",
                                f"{config.architecture} is unconditional: give no labels",
                                allowed="no labels")
        return None, None
    if label_weights is not None:
        w_t = torch.as_tensor(np.asarray(label_weights, np.float32))
        if w_t.shape != (n, n_classes):
            raise BadInputError("label_weights", f"got shape {tuple(w_t.shape)}: "
                                "label_weights must be (n, n_classes)",
                                allowed=f"shape ({n}, {n_classes})")
        return None, w_t
    if labels is not None:
        lab_t = torch.as_tensor(np.asarray(labels, np.int64)).reshape(-1)
        if lab_t.shape != (n,) or (n and (lab_t.min() < 0 or lab_t.max() >= n_classes)):
            raise BadInputError("labels", f"labels must be {n} class indices, one per "
                                "series", allowed=f"0..{n_classes - 1}")
        return lab_t, None
    return torch.randint(0, n_classes, (n,), generator=rng), None


@torch.no_grad()
def run_generator(net: torch.nn.Module, zt: torch.Tensor, lab_t: torch.Tensor | None,
                  w_t: torch.Tensor | None, noise_t: torch.Tensor | None,
                  noise_rng: torch.Generator, gap: torch.Tensor | None, config: GanConfig,
                  device: torch.device, chunk: int) -> np.ndarray:
    """``net``'s series (n, c, L) for the drawn inputs, ``chunk`` series a pass, each moved by
    its mean-correction ``gap`` (then clamped to [-1, 1]) when one is given."""
    net.eval()
    set_noise_rng(net, noise_rng)
    out = []
    for s in range(0, len(zt), chunk):
        part = slice(s, s + chunk)
        y = None if lab_t is None else lab_t[part].to(device)
        w = None if w_t is None else w_t[part].to(device)
        if noise_t is not None:
            set_noise_eps(net, noise_t[part].to(device))
        x = net(zt[part].to(device), y, w).float()
        if gap is not None:
            x = (x + gap_of(gap, y, w)).clamp(-1.0, 1.0)
        out.append(x.cpu())
    set_noise_rng(net, None)
    set_noise_eps(net, None)
    net.train()
    if not out:
        return np.zeros((0, config.n_channels, config.length), np.float32)
    return (out[0] if len(out) == 1 else torch.cat(out)).numpy()  # one chunk: no copy


@torch.no_grad()
def draw_noise(n: int, config: GanConfig, seed: int | None, device: torch.device,
               chunk: int = 4096) -> np.ndarray | None:
    """The per-point noise a draw of ``n`` series with ``seed`` (labels given) makes, drawn the
    same way (same generators, same chunks). None for a generator without noise inputs."""
    if not config.noise_inputs:
        return None
    rng = sampling_rng(config, seed)
    torch.randn(n, config.latent_dim, generator=rng)  # the latents come first
    noise_rng = noise_generator(rng, device)
    shape = (config.n_channels, config.length)
    parts = [torch.randn((min(chunk, n - s), *shape), device=device,
                         generator=noise_rng).cpu() for s in range(0, n, chunk)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, *shape), np.float32)
