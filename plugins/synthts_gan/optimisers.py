"""The two Adam optimisers of a GAN and their learning-rate schedule.

CUDA graphs need capturable optimiser state, and a tensor learning rate (one that can change
under a captured graph); on the CPU the fused kernel does Adam's five element-wise passes in one
(a quarter of a small GAN's step time otherwise).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from synthts_gan.config import GanConfig


def build_optimisers(gen: torch.nn.Module, critic: torch.nn.Module, config: GanConfig,
                     device: torch.device, use_graphs: bool
                     ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """(generator's, critic's) Adam: the critic's rate is ``lr * lr_d_ratio``."""
    betas = (config.beta1, config.beta2)
    extra: dict[str, Any] = {"capturable": True} if use_graphs else {}
    if device.type == "cpu":
        extra["fused"] = True
    lr_g: Any = config.lr
    lr_d: Any = config.lr * config.lr_d_ratio
    if use_graphs:  # a tensor learning rate can change under a captured graph
        lr_g = torch.tensor(lr_g, device=device)
        lr_d = torch.tensor(lr_d, device=device)
    return (torch.optim.Adam(gen.parameters(), lr=lr_g, betas=betas, **extra),
            torch.optim.Adam(critic.parameters(), lr=lr_d, betas=betas, **extra))


def schedule_lr(opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, config: GanConfig,
                epochs_done: int) -> None:
    """Cosine decay of both learning rates over ``total_epochs`` (to lr/20): large steps find
    the distribution, small ones at the end stop the generator jittering around it. Nothing
    for a constant schedule."""
    if config.lr_schedule != "cosine" or config.total_epochs <= 0:
        return
    progress = min(1.0, epochs_done / config.total_epochs)
    factor = 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))
    for opt, base in ((opt_g, config.lr), (opt_d, config.lr * config.lr_d_ratio)):
        for group in opt.param_groups:
            if isinstance(group["lr"], torch.Tensor):  # capturable Adam on CUDA
                group["lr"].fill_(base * factor)
            else:
                group["lr"] = base * factor
