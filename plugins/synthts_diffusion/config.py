"""``DiffusionConfig``: the hyper-parameters and data shape of one diffusion model.

Plain values, no torch: the plugin reads the defaults here to declare its search space (one
place for each default).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DiffusionConfig:
    """Hyper-parameters and data shape of one diffusion model (plain values, JSON-ready)."""

    architecture: str = "diffusion"
    d_model: int = 64
    layers: int = 4
    heads: int = 4
    patch_size: int = 0  # 0 = automatic (at most denoiser.MAX_TOKENS tokens)
    harmonics: int = 16
    lr: float = 2e-3
    batch_size: int = 64
    ema_decay: float = 0.995
    fft_weight: float = 0.2
    cond_drop: float = 0.1
    guidance_scale: float = 1.0
    sampling_steps: int = 20
    sampler: str = "dpmpp_2m"  # dpmpp_2m | ddim
    noise_weighting: str = "edm"  # edm | uniform
    lr_schedule: str = "cosine"
    total_epochs: int = 0
    length: int = 256
    n_channels: int = 1
    n_classes: int = 0
    conditional: bool = True
    seed: int = 0

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> DiffusionConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})
