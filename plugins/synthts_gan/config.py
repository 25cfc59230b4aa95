"""``GanConfig``: the hyper-parameters and data shape of one GAN, and the options refused with
differential privacy.

Plain values, no torch: the plugin reads the defaults here to declare its search space (one
place for each default), and checks a config before any network is built. Also runs with numpy
and torch alone (the throughput benchmark's box).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from synthts_gan._errors import BadInputError

FAMILIES = {"wgan_gp": "wgan", "cwgan_gp": "wgan", "cgan": "cgan"}


@dataclass(frozen=True)
class GanConfig:
    """Hyper-parameters and data shape of one GAN (plain values, JSON-ready)."""

    architecture: str = "wgan_gp"  # wgan_gp | cwgan_gp | cgan
    backbone: str = "mlp"
    latent_dim: int = 100
    embed_dim: int = 10
    lr: float = 2e-4
    lr_d_ratio: float = 1.0  # critic learning rate = lr * lr_d_ratio (two time-scale updates)
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 128
    n_critic: int = 5
    gp_weight: float = 10.0
    dropout: float = 0.5
    conv_width: int = 64
    conv_layers: int = 3
    precision: str = "fp32"  # fp32 | bf16 (bf16 autocast applies on CUDA only)
    cuda_graphs: bool = True
    augment: bool = False
    conditioning: str = "concat"
    noise_inputs: bool = False
    spectral_norm: bool = False
    ema_decay: float = 0.0  # 0 = sample from the live generator
    moment_weight: float = 0.0  # class-conditional moment loss in the generator's objective
    mean_correction: bool = False  # sample + (real class mean - generator's class mean)
    lr_schedule: str = "constant"  # constant | cosine (to lr/20 over total_epochs)
    total_epochs: int = 0  # the length of the run the schedule spans (0 = constant)
    # differential privacy (synthts_gan.private): None = off; delta None = 1/N
    dp_epsilon: float | None = None
    dp_delta: float | None = None
    dp_max_grad_norm: float = 1.0
    length: int = 1024
    n_channels: int = 1
    n_classes: int = 0
    seed: int = 0

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> GanConfig:
        """Keeps the keys this class knows (a config may carry more, e.g. label names)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    @property
    def conditional(self) -> bool:
        return self.architecture in ("cgan", "cwgan_gp")

    @property
    def block(self) -> int:
        return self.n_critic if FAMILIES[self.architecture] == "wgan" else 1

    @property
    def private(self) -> bool:
        return self.dp_epsilon is not None


def check_private(config: GanConfig, field_prefix: str = "") -> None:
    """Options that feed a statistic of the real data into training or sampling outside the
    private critic updates are refused with DP: the moment loss (real per-class means and stds
    in every generator update) and the mean correction (the real per-class mean added to every
    sample)."""
    if not config.private:
        return
    if config.moment_weight > 0:
        raise BadInputError(f"{field_prefix}moment_weight", "the moment loss feeds the real "
                            "per-class mean and std into every generator update, outside the "
                            "private critic", allowed="0 with dp_epsilon")
    if config.mean_correction:
        raise BadInputError(f"{field_prefix}mean_correction", "the mean correction adds the "
                            "real per-class mean to every sample, outside the private critic",
                            allowed="false with dp_epsilon")
