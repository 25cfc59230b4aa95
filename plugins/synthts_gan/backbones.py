"""Generator and critic networks (pure torch; from synthts only the bad-input error).

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

from synthts_gan._errors import BadInputError

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
    conditioning: str = "concat"  # critic: "concat" (label as input) | "projection"
    noise_inputs: bool = False  # generator adds learned-scale noise at every output point
    spectral_norm: bool = False  # critic layers spectrally normalised


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
            raise BadInputError("labels", "a conditional network needs labels or label_weights",
                                allowed="labels or label_weights")
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


class NoiseOutput(nn.Module):
    """The generator's last step. Plain: ``tanh(h)``. With noise inputs the body emits a mean
    and a raw scale per channel and point, and the output is ``tanh(mean) + softplus(scale) *
    eps`` (clamped to [-1, 1]) with fresh ``eps ~ N(0, 1)`` at every point: the network can then make white noise of
    any level (which a convolution stack, a smoother, cannot), class by class and point by
    point. ``eps`` comes from ``self.rng`` when set, so sampling is reproducible, or is given
    whole in ``self.eps`` (the API's batching: each request's noise drawn as if it ran alone)."""

    def __init__(self, noise_inputs: bool) -> None:
        super().__init__()
        self.noise_inputs = noise_inputs
        self.rng: torch.Generator | None = None
        self.eps: torch.Tensor | None = None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.noise_inputs:
            return torch.tanh(h)
        mean, raw = h.chunk(2, dim=1)
        eps = self.eps if self.eps is not None else torch.randn(
            mean.shape, device=mean.device, dtype=mean.dtype, generator=self.rng)
        # noise added after the squashing, so it stays Gaussian at the peaks too; the clamp
        # keeps the output in the training range (the real extremes are exactly +-1)
        return (torch.tanh(mean) + nn.functional.softplus(raw - 3.0) * eps).clamp(-1.0, 1.0)


def set_noise_rng(module: nn.Module, rng: torch.Generator | None) -> None:
    for m in module.modules():
        if isinstance(m, NoiseOutput):
            m.rng = rng


def set_noise_eps(module: nn.Module, eps: torch.Tensor | None) -> None:
    for m in module.modules():
        if isinstance(m, NoiseOutput):
            m.eps = eps


def _sn(layer: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if on else layer


class Projection(nn.Module):
    """Projection conditioning (Miyato & Koyama 2018): the critic's score gains
    ``<embed(y), features>``, so each class is judged against its own direction instead of a
    label fed in as an input. Soft ``label_weights`` mix the class embeddings."""

    def __init__(self, n_classes: int, dim: int) -> None:
        super().__init__()
        self.embed = LabelEmbedding(n_classes, dim)
        nn.init.zeros_(self.embed.embed.weight)

    def forward(self, h: torch.Tensor, labels: torch.Tensor | None,
                weights: torch.Tensor | None) -> torch.Tensor:
        return (self.embed(labels, weights) * h).sum(1)


# ------------------------------------------------------------------------- seed MLPs


def _seed_wgan_generator_body(in_dim: int, out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_dim, 128), nn.LeakyReLU(0.2)]
    for a, b in ((128, 256), (256, 512), (512, 1024)):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b, eps=0.8), nn.LeakyReLU(0.2)]
    layers += [nn.Linear(1024, out_dim)]
    return nn.Sequential(*layers)


def _seed_cgan_generator_body(in_dim: int, out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_dim, 128), nn.LeakyReLU(0.2)]
    for a, b in ((128, 256), (256, 512)):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.LeakyReLU(0.2)]
    layers += [nn.Linear(512, out_dim)]
    return nn.Sequential(*layers)


class MlpGenerator(_Conditioned):
    """Seed generator: WGAN-GP 100 -> 128 -> 256 -> 512 -> 1024 -> length, C-GAN
    (100 + embedding) -> 128 -> 256 -> 512 -> length; tanh output, channels flattened."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__(spec.n_classes, spec.embed_dim)
        outputs = spec.n_channels * (2 if spec.noise_inputs else 1)
        self.shape = (outputs, spec.length)
        body = _seed_cgan_generator_body if spec.family == "cgan" else _seed_wgan_generator_body
        self.body = body(spec.latent_dim + self.cond_dim, outputs * spec.length)
        self.out = NoiseOutput(spec.noise_inputs)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                label_weights: torch.Tensor | None = None) -> torch.Tensor:
        cond = self.condition(labels, label_weights)
        h = z if cond is None else torch.cat((cond, z), dim=1)
        return self.out(self.body(h).view(z.shape[0], *self.shape))


class _Critic(nn.Module):
    """Shared critic head: the label either enters as input (``concat``, the seed's way) or
    through a projection of the last features; ``score`` maps features to one number."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        conditional = spec.n_classes > 0
        self.project = conditional and spec.conditioning == "projection"
        self.cond_dim = spec.embed_dim if conditional and not self.project else 0
        self.embedding = (LabelEmbedding(spec.n_classes, spec.embed_dim)
                          if self.cond_dim else None)
        self.projection: Projection | None = None

    def _head(self, spec: NetSpec, features: int, n_classes: int) -> None:
        self.score = _sn(nn.Linear(features, 1), spec.spectral_norm)
        if self.project:
            self.projection = Projection(n_classes, features)

    def _scored(self, h: torch.Tensor, labels: torch.Tensor | None,
                label_weights: torch.Tensor | None) -> torch.Tensor:
        out = self.score(h).squeeze(1)
        if self.projection is not None:
            out = out + self.projection(h, labels, label_weights)
        return out

    def condition(self, labels: torch.Tensor | None,
                  weights: torch.Tensor | None) -> torch.Tensor | None:
        return None if self.embedding is None else self.embedding(labels, weights)


class MlpCritic(_Critic):
    """Seed critic (length -> 512 -> 256 -> 1) or seed C-GAN discriminator
    ((length + embedding) -> 512 -> 512 -> 512 -> 1, dropout after the 2nd and 3rd layer)."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__(spec)
        in_dim = spec.n_channels * spec.length + self.cond_dim
        sn = spec.spectral_norm
        if spec.family == "cgan":
            self.body = nn.Sequential(
                _sn(nn.Linear(in_dim, 512), sn), nn.LeakyReLU(0.2),
                _sn(nn.Linear(512, 512), sn), SeededDropout(spec.dropout), nn.LeakyReLU(0.2),
                _sn(nn.Linear(512, 512), sn), SeededDropout(spec.dropout), nn.LeakyReLU(0.2),
            )
            self._head(spec, 512, spec.n_classes)
        else:
            self.body = nn.Sequential(
                _sn(nn.Linear(in_dim, 512), sn), nn.LeakyReLU(0.2),
                _sn(nn.Linear(512, 256), sn), nn.LeakyReLU(0.2),
            )
            self._head(spec, 256, spec.n_classes)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                label_weights: torch.Tensor | None = None) -> torch.Tensor:
        cond = self.condition(labels, label_weights)
        h = x.flatten(1)
        if cond is not None:
            h = torch.cat((h, cond), dim=1)
        return self._scored(self.body(h), labels, label_weights)


# ------------------------------------------------------------------------- 1-D convolutional


def check_conv_length(spec: NetSpec) -> None:
    """Each critic layer halves the length; below 4 points per feature the net is degenerate."""
    need = 4 * 2 ** spec.conv_layers
    if spec.length < need:
        raise BadInputError(
            "conv_layers", f"conv backbone with conv_layers={spec.conv_layers} needs length >= "
            f"{need}, got length={spec.length}; lower conv_layers or use the mlp backbone",
            allowed=f"at most {max(0, (spec.length // 4).bit_length() - 1)} for length "
                    f"{spec.length}")


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
        outputs = spec.n_channels * (2 if spec.noise_inputs else 1)
        blocks += [nn.Conv1d(ch, outputs, 5, padding=2)]
        self.blocks = nn.Sequential(*blocks)
        self.out = NoiseOutput(spec.noise_inputs)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                label_weights: torch.Tensor | None = None) -> torch.Tensor:
        cond = self.condition(labels, label_weights)
        h = z if cond is None else torch.cat((cond, z), dim=1)
        h = self.project(h).view(z.shape[0], self.c0, self.l0)
        return self.out(self.blocks(h)[..., : self.length])


class ConvCritic(_Critic):
    """Strided convolutions (length halves, channels double) then a linear score. With concat
    conditioning the label embedding enters as extra constant input channels."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__(spec)
        check_conv_length(spec)
        layers: list[nn.Module] = []
        ch_in, ch, length = spec.n_channels + self.cond_dim, spec.conv_width, spec.length
        for _ in range(spec.conv_layers):
            layers += [_sn(nn.Conv1d(ch_in, ch, 5, stride=2, padding=2), spec.spectral_norm),
                       nn.LeakyReLU(0.2)]
            if spec.dropout > 0:
                layers.append(SeededDropout(spec.dropout))
            length = (length - 1) // 2 + 1
            ch_in, ch = ch, ch * 2
        self.features = nn.Sequential(*layers)
        self._head(spec, ch_in * length, spec.n_classes)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                label_weights: torch.Tensor | None = None) -> torch.Tensor:
        cond = self.condition(labels, label_weights)
        if cond is not None:
            x = torch.cat((x, cond[:, :, None].expand(-1, -1, x.shape[-1])), dim=1)
        return self._scored(self.features(x).flatten(1), labels, label_weights)


def build_networks(spec: NetSpec, seed: int) -> tuple[nn.Module, nn.Module]:
    """Generator and critic, initialised from ``seed`` without leaving a trace on the global
    RNG (the fork restores it), built on the CPU so every device starts from the same weights."""
    if spec.backbone not in BACKBONES:
        raise BadInputError("backbone", f"unknown backbone {spec.backbone!r}",
                            allowed=", ".join(BACKBONES))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if spec.backbone == "mlp":
            return MlpGenerator(spec), MlpCritic(spec)
        return ConvGenerator(spec), ConvCritic(spec)


def set_dropout_rng(module: nn.Module, rng: torch.Generator | None) -> None:
    for m in module.modules():
        if isinstance(m, SeededDropout):
            m.rng = rng

