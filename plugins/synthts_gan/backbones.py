"""Generator and critic networks (pure torch; no synthts imports).

Every network maps ``(z, labels | label_weights)`` or ``(x, labels | label_weights)`` on
multi-channel series shaped (n, channels, length). Conditioning is a learned label embedding;
``label_weights`` (n, n_classes) mixes the class embeddings softly, which is what latent and
label interpolation need. The seed's fully connected networks are reproduced as they were
(including the WGAN-GP generator's BatchNorm ``eps=0.8``, a positional-argument slip in the seed
that its trained models depend on); the 1-D convolutional backbone is the better choice for
longer series because its weights do not grow with the length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

BACKBONES = ("mlp", "conv")


@dataclass(frozen=True)
class NetSpec:
    """Shape of one GAN's pair of networks."""

    family: str  # "wgan" (critic: no dropout) or "cgan" (seed C-GAN layout)
    backbone: str
    latent_dim: int
    n_channels: int
    length: int
    n_classes: int  # 0 = unconditional
    embed_dim: int
    dropout: float = 0.0
    conv_width: int = 64
    conv_layers: int = 3


class SeededDropout(nn.Module):
    """Dropout that draws its mask from ``self.rng`` (a ``torch.Generator``) when one is set,
    so a CPU run is reproducible without touching the global RNG."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.rng: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.rng)
        return x * mask / keep


class LabelEmbedding(nn.Module):
    """Hard labels by lookup; soft ``label_weights`` as a weighted sum of class embeddings."""

    def __init__(self, n_classes: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_classes, dim)

    def forward(self, labels: torch.Tensor | None, weights: torch.Tensor | None) -> torch.Tensor:
        if weights is not None:
            return weights.to(self.embed.weight.dtype) @ self.embed.weight
        if labels is None:
            raise ValueError("a conditional network needs labels or label_weights")
        return self.embed(labels)


class _Conditioned(nn.Module):
    """Base: optional label embedding concatenated to the input features."""

    def __init__(self, n_classes: int, embed_dim: int) -> None:
        super().__init__()
        self.cond_dim = embed_dim if n_classes > 0 else 0
        self.embedding = LabelEmbedding(n_classes, embed_dim) if n_classes > 0 else None

    def condition(self, labels: torch.Tensor | None,
                  weights: torch.Tensor | None) -> torch.Tensor | None:
        if self.embedding is None:
            return None
        return self.embedding(labels, weights)


# ------------------------------------------------------------------------- seed MLPs


def _seed_wgan_generator_body(in_dim: int, out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_dim, 128), nn.LeakyReLU(0.2)]
    for a, b in ((128, 256), (256, 512), (512, 1024)):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b, eps=0.8), nn.LeakyReLU(0.2)]
    layers += [nn.Linear(1024, out_dim), nn.Tanh()]
    return nn.Sequential(*layers)


def _seed_cgan_generator_body(in_dim: int, out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_dim, 128), nn.LeakyReLU(0.2)]
    for a, b in ((128, 256), (256, 512)):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.LeakyReLU(0.2)]
    layers += [nn.Linear(512, out_dim), nn.Tanh()]
    return nn.Sequential(*layers)


class MlpGenerator(_Conditioned):
    """Seed generator: WGAN-GP 100 -> 128 -> 256 -> 512 -> 1024 -> length, C-GAN
    (100 + embedding) -> 128 -> 256 -> 512 -> length; tanh output, channels flattened."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__(spec.n_classes, spec.embed_dim)
        self.shape = (spec.n_channels, spec.length)
        body = _seed_cgan_generator_body if spec.family == "cgan" else _seed_wgan_generator_body
        self.body = body(spec.latent_dim + self.cond_dim, spec.n_channels * spec.length)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                label_weights: torch.Tensor | None = None) -> torch.Tensor:
        cond = self.condition(labels, label_weights)
        h = z if cond is None else torch.cat((cond, z), dim=1)
        return self.body(h).view(z.shape[0], *self.shape)


class MlpCritic(_Conditioned):
    """Seed critic (length -> 512 -> 256 -> 1) or seed C-GAN discriminator
    ((length + embedding) -> 512 -> 512 -> 512 -> 1, dropout after the 2nd and 3rd layer)."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__(spec.n_classes, spec.embed_dim)
        in_dim = spec.n_channels * spec.length + self.cond_dim
        if spec.family == "cgan":
            self.body = nn.Sequential(
                nn.Linear(in_dim, 512), nn.LeakyReLU(0.2),
                nn.Linear(512, 512), SeededDropout(spec.dropout), nn.LeakyReLU(0.2),
                nn.Linear(512, 512), SeededDropout(spec.dropout), nn.LeakyReLU(0.2),
                nn.Linear(512, 1),
            )
        else:
            self.body = nn.Sequential(
                nn.Linear(in_dim, 512), nn.LeakyReLU(0.2),
                nn.Linear(512, 256), nn.LeakyReLU(0.2),
                nn.Linear(256, 1),
            )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                label_weights: torch.Tensor | None = None) -> torch.Tensor:
        cond = self.condition(labels, label_weights)
        h = x.flatten(1)
        if cond is not None:
            h = torch.cat((h, cond), dim=1)
        return self.body(h).squeeze(1)


# ------------------------------------------------------------------------- 1-D convolutional


def check_conv_length(spec: NetSpec) -> None:
    """Each critic layer halves the length; below 4 points per feature the net is degenerate."""
    need = 4 * 2 ** spec.conv_layers
    if spec.length < need:
        raise ValueError(
            f"conv backbone with conv_layers={spec.conv_layers} needs length >= {need}, "
            f"got length={spec.length}; lower conv_layers or use the mlp backbone"
        )


class ConvGenerator(_Conditioned):
    """Linear projection to a short, wide sequence, then nearest upsampling + conv blocks that
    double the length and halve the channels; cropped to the exact length."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__(spec.n_classes, spec.embed_dim)
        check_conv_length(spec)
        self.length = spec.length
        k = spec.conv_layers
        self.l0 = math.ceil(spec.length / 2 ** k)
        self.c0 = spec.conv_width * 2 ** (k - 1)
        self.project = nn.Sequential(
            nn.Linear(spec.latent_dim + self.cond_dim, self.c0 * self.l0),
            nn.LeakyReLU(0.2),
        )
        blocks: list[nn.Module] = []
        ch = self.c0
        for i in range(k):
            out = max(spec.conv_width, ch // 2) if i < k - 1 else spec.conv_width
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv1d(ch, out, 5, padding=2, bias=False),
                       nn.BatchNorm1d(out), nn.LeakyReLU(0.2)]
            ch = out
        blocks += [nn.Conv1d(ch, spec.n_channels, 5, padding=2), nn.Tanh()]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                label_weights: torch.Tensor | None = None) -> torch.Tensor:
        cond = self.condition(labels, label_weights)
        h = z if cond is None else torch.cat((cond, z), dim=1)
        h = self.project(h).view(z.shape[0], self.c0, self.l0)
        return self.blocks(h)[..., : self.length]


class ConvCritic(_Conditioned):
    """Strided convolutions (length halves, channels double) then a linear score. The label
    embedding enters as extra constant input channels."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__(spec.n_classes, spec.embed_dim)
        check_conv_length(spec)
        layers: list[nn.Module] = []
        ch_in, ch, length = spec.n_channels + self.cond_dim, spec.conv_width, spec.length
        for _ in range(spec.conv_layers):
            layers += [nn.Conv1d(ch_in, ch, 5, stride=2, padding=2), nn.LeakyReLU(0.2)]
            if spec.dropout > 0:
                layers.append(SeededDropout(spec.dropout))
            length = (length - 1) // 2 + 1
            ch_in, ch = ch, ch * 2
        self.features = nn.Sequential(*layers)
        self.score = nn.Linear(ch_in * length, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                label_weights: torch.Tensor | None = None) -> torch.Tensor:
        cond = self.condition(labels, label_weights)
        if cond is not None:
            x = torch.cat((x, cond[:, :, None].expand(-1, -1, x.shape[-1])), dim=1)
        return self.score(self.features(x).flatten(1)).squeeze(1)


def build_networks(spec: NetSpec, seed: int) -> tuple[nn.Module, nn.Module]:
    """Generator and critic, initialised from ``seed`` without leaving a trace on the global
    RNG (the fork restores it), built on the CPU so every device starts from the same weights."""
    if spec.backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {spec.backbone!r}; one of {', '.join(BACKBONES)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if spec.backbone == "mlp":
            return MlpGenerator(spec), MlpCritic(spec)
        return ConvGenerator(spec), ConvCritic(spec)


def set_dropout_rng(module: nn.Module, rng: torch.Generator | None) -> None:
    for m in module.modules():
        if isinstance(m, SeededDropout):
            m.rng = rng

