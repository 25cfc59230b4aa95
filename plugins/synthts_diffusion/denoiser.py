"""The denoising network: a transformer over patches of the whole series (DiT-style).

Each token is a patch of ``patch`` points of every channel, so attention sees the whole series
at every layer at a cost that grows with ``length / patch``, not ``length``. The noise level and
the class condition modulate every block (adaptive layer norm with zero-initialised gates, Peebles
& Xie 2023: a fresh network is the identity on its skip path). Beside the patch output, two global
heads read the pooled tokens: a low-order polynomial trend and a Fourier season of the first
``harmonics`` whole-window frequencies, as Diffusion-TS decomposes a series (Yuan & Qiao 2024),
which lets a smooth periodic shape be produced without drawing it patch by patch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_TOKENS = 32  # automatic patch size: the smallest patch giving at most this many tokens
TREND_DEGREE = 3
SMALL_ATTENTION = 128  # tokens up to which attention is two matrix products


def auto_patch(length: int, max_tokens: int = MAX_TOKENS) -> int:
    return max(1, math.ceil(length / max_tokens))


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of ``1000 t`` (n,) -> (n, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / half)
    angles = 1000.0 * t.float()[:, None] * freqs[None, :]
    emb = torch.cat((angles.sin(), angles.cos()), dim=1)
    return F.pad(emb, (0, dim - 2 * half))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention. For the few tokens the automatic patch gives, two batched matrix
    products beat torch's fused CPU kernel by 2x (1000 series x 4 heads x 32 tokens: 7 ms
    against 15 ms on 2 cores); longer sequences take the fused kernel, which never holds the
    whole weight matrix."""
    if q.shape[-2] > SMALL_ATTENTION:
        return F.scaled_dot_product_attention(q, k, v)
    weights = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    return weights.softmax(dim=-1) @ v


class Block(nn.Module):
    """Self-attention and an MLP, each scaled, shifted and gated by the condition."""

    def __init__(self, d_model: int, heads: int, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model),
                                 nn.GELU(),  # exact: 3x faster than tanh's on the CPU
                                 nn.Linear(mlp_ratio * d_model, d_model))
        self.modulation = nn.Linear(d_model, 6 * d_model)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = (
            self.modulation(cond).unsqueeze(1).chunk(6, dim=-1))
        y = torch.addcmul(shift1, self.norm1(h), 1 + scale1)  # one pass, not two
        n, tokens, d = y.shape
        q, k, v = self.qkv(y).view(n, tokens, 3, self.heads, d // self.heads).permute(
            2, 0, 3, 1, 4)
        attn = attention(q, k, v).transpose(1, 2).reshape(n, tokens, d)
        h = torch.addcmul(h, gate1, self.proj(attn))
        y = torch.addcmul(shift2, self.norm2(h), 1 + scale2)
        return torch.addcmul(h, gate2, self.mlp(y))


class Denoiser(nn.Module):
    """``forward(x, t, cond)``: ``x`` (n, c, L) the scaled noisy series, ``t`` (n,) times in
    [0, 1], ``cond`` (n, n_classes + 1) weights over the class embeddings, the last one being
    "no class" (classifier-free guidance); None for an unconditional network. Returns (n, c, L).
    """

    def __init__(self, n_channels: int, length: int, n_classes: int, *, d_model: int = 64,
                 layers: int = 4, heads: int = 4, patch: int = 0, harmonics: int = 16) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError("d_model must be a multiple of heads")
        self.n_channels, self.length = n_channels, length
        self.patch = patch or auto_patch(length)
        self.tokens = math.ceil(length / self.patch)
        width = n_channels * self.patch
        self.embed = nn.Linear(width, d_model)
        self.position = nn.Parameter(torch.randn(self.tokens, d_model) * 0.02)
        self.time = nn.Sequential(nn.Linear(d_model, d_model), nn.SiLU(),
                                  nn.Linear(d_model, d_model))
        self.classes = nn.Parameter(torch.randn(n_classes + 1, d_model) * 0.02) \
            if n_classes else None
        self.blocks = nn.ModuleList(Block(d_model, heads) for _ in range(layers))
        self.final_norm = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, width)
        tau = torch.arange(length, dtype=torch.float32) / length
        freqs = torch.arange(1, harmonics + 1, dtype=torch.float32)[:, None] * tau[None, :]
        season = torch.cat((torch.cos(2 * math.pi * freqs), torch.sin(2 * math.pi * freqs)))
        trend = torch.stack([(2 * tau - 1) ** p for p in range(TREND_DEGREE + 1)])
        self.register_buffer("basis", torch.cat((trend, season)), persistent=False)
        self.global_head = nn.Linear(d_model, n_channels * self.basis.shape[0])
        for layer in (self.final_modulation, self.out, self.global_head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None
                ) -> torch.Tensor:
        n, c, length = x.shape
        pad = self.tokens * self.patch - length
        if pad:
            x = F.pad(x, (0, pad), mode="replicate")
        tokens = x.view(n, c, self.tokens, self.patch).permute(0, 2, 1, 3).reshape(
            n, self.tokens, c * self.patch)
        h = self.embed(tokens) + self.position
        emb = self.time(time_embedding(t, h.shape[-1]))
        if self.classes is not None and cond is not None:
            emb = emb + cond @ self.classes
        emb = F.silu(emb)
        for block in self.blocks:
            h = block(h, emb)
        shift, scale = self.final_modulation(emb).unsqueeze(1).chunk(2, dim=-1)
        h = torch.addcmul(shift, self.final_norm(h), 1 + scale)
        local = self.out(h).view(n, self.tokens, c, self.patch).permute(0, 2, 1, 3).reshape(
            n, c, self.tokens * self.patch)[..., :length]
        coefficients = self.global_head(h.mean(dim=1)).view(n, c, -1)
        return local + coefficients @ self.basis
