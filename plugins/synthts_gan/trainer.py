"""``GanTrainer``: owns the networks, optimisers and RNG of one GAN and trains it epoch by epoch.

Pure torch + numpy so the benchmark runs on a box without synthts installed. On CUDA the whole
block step (all critic and generator updates of ``n_critic`` batches, optimiser steps included)
is captured once as a CUDA graph and replayed with static input buffers; CPU runs never touch
CUDA graphs or autocast. Data with missing points trains eagerly (no graph): its masked steps
have not been measured on a GPU yet.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from synthts_gan._errors import BadInputError
from synthts_gan.backbones import (
    NetSpec,
    build_networks,
    set_dropout_rng,
    set_noise_eps,
    set_noise_rng,
)
from synthts_gan.epoch_data import epoch_blocks, fit_batch
from synthts_gan.state import load_state, save_state
from synthts_gan.steps import LOSS_NAMES, StepContext, cgan_block, wgan_gp_block

FAMILIES = {"wgan_gp": "wgan", "cwgan_gp": "wgan", "cgan": "cgan"}
WARMUP_BLOCKS = 3  # eager steps on a side stream before a CUDA graph capture
CORRECTION_VALUES = 2**18  # values per class the generator's class mean is measured on
CORRECTION_SERIES = (64, 256)  # ... as series per class, at least / at most


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


class GanTrainer:
    """Train and sample one GAN. See ``GanConfig`` for the knobs."""

    def __init__(self, config: GanConfig, device: str | torch.device = "cpu") -> None:
        if config.architecture not in FAMILIES:
            raise BadInputError("architecture", f"unknown architecture {config.architecture!r}",
                                allowed=", ".join(FAMILIES))
        check_private(config)
        self.config = config
        self.device = torch.device(device)
        self.n_classes = max(config.n_classes, 1) if config.conditional else 0
        family = FAMILIES[config.architecture]
        self.spec = NetSpec(
            family=family, backbone=config.backbone, latent_dim=config.latent_dim,
            n_channels=config.n_channels, length=config.length, n_classes=self.n_classes,
            embed_dim=config.embed_dim, dropout=config.dropout if family == "cgan" else 0.0,
            conv_width=config.conv_width, conv_layers=config.conv_layers,
            conditioning=config.conditioning, noise_inputs=config.noise_inputs,
            spectral_norm=config.spectral_norm,
        )
        gen, critic = build_networks(self.spec, config.seed)
        self.gen, self.critic = gen.to(self.device), critic.to(self.device)
        # the averaged generator samples; the live one trains (Yazici et al. 2019)
        self.gen_ema = copy.deepcopy(self.gen).requires_grad_(False) \
            if config.ema_decay > 0 else None
        # a DP step's Poisson batch has no static shape: no CUDA graph
        self.use_graphs = self.device.type == "cuda" and config.cuda_graphs and not config.private
        betas = (config.beta1, config.beta2)
        # CUDA graphs need capturable state; on the CPU the fused kernel does Adam's five
        # element-wise passes in one (a quarter of a small GAN's step time otherwise)
        extra: dict[str, Any] = {"capturable": True} if self.use_graphs else {}
        if self.device.type == "cpu":
            extra["fused"] = True
        lr_g: Any = config.lr
        lr_d: Any = config.lr * config.lr_d_ratio
        if self.use_graphs:  # a tensor learning rate can change under a captured graph
            lr_g = torch.tensor(lr_g, device=self.device)
            lr_d = torch.tensor(lr_d, device=self.device)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=lr_g, betas=betas, **extra)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=lr_d, betas=betas, **extra)
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(config.seed)
        autocast = None
        if self.device.type == "cuda" and config.precision == "bf16":
            autocast = torch.autocast("cuda", dtype=torch.bfloat16)
        self.ctx = StepContext(self.gen, self.critic, self.opt_g, self.opt_d,
                               config.latent_dim, self.n_classes, autocast,
                               gen_ema=self.gen_ema, ema_decay=config.ema_decay)
        self._block_fn = wgan_gp_block if family == "wgan" else cgan_block
        self.epochs_done = 0
        self._data_key: tuple | None = None
        self._values: torch.Tensor | None = None
        self._labels: torch.Tensor | None = None
        # missing points: 1 observed / 0 missing (n, c, L), None for complete data (then no
        # masking code runs at all); ``_joined`` = values and mask as 2c channels, so an
        # epoch's shuffle and shifts move both together with the draws a complete set makes
        self._mask: torch.Tensor | None = None
        self._joined: torch.Tensor | None = None
        self._graph: _GraphedBlock | None = None
        # mean correction: the real per-class mean (k, c, L) of the training set, and the gap
        # between it and the sampler's own class mean, measured after ``_gap_epoch`` epochs
        self.real_class_mean: torch.Tensor | None = None
        self.mean_gap: torch.Tensor | None = None
        self._gap_epoch = -1
        # differential privacy: DP steps taken (in checkpoints), and the plan for N series
        self.dp_steps = 0
        self._dp_plan: dict[str, Any] | None = None
        # the DP masks and noise: never from the (public) seed, never in a checkpoint
        self._dp_rng: torch.Generator | None = None
        if config.private:
            from synthts_gan.private import check_critic, secret_generator

            check_critic(self.critic)
            self._dp_rng = secret_generator(self.device)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def conditional(self) -> bool:
        return self.config.conditional

    @property
    def sampler(self) -> torch.nn.Module:
        """The generator that samples: the weight average when EMA is on."""
        return self.gen_ema if self.gen_ema is not None else self.gen

    # ------------------------------------------------------------------ training
    def _to_device(self, values: np.ndarray, labels: np.ndarray | None) -> None:
        """Upload once; later epochs on the same arrays reuse the device copy."""
        key = (values.__array_interface__["data"][0], values.shape,
               None if labels is None else labels.__array_interface__["data"][0])
        if key == self._data_key:
            return
        if values.ndim != 3 or values.shape[1:] != (self.config.n_channels, self.config.length):
            raise BadInputError("values", f"got shape {values.shape}",
                                allowed=f"(n, {self.config.n_channels}, {self.config.length})")
        observed = self._observed_mask(values)
        self._values = torch.as_tensor(np.ascontiguousarray(values, np.float32)).to(self.device)
        self._mask = self._joined = None
        if observed is not None:
            seen = torch.as_tensor(observed).to(self.device)
            # a missing point becomes 0 (the middle of the range) and is never read as a value
            self._values = torch.where(seen, self._values, torch.zeros_like(self._values))
            self._mask = seen.to(self._values.dtype)
            self._joined = torch.cat((self._values, self._mask), dim=1)
        self._labels = None
        if self.conditional:
            lab = np.zeros(len(values), np.int64) if labels is None else labels
            self._labels = torch.as_tensor(np.asarray(lab, np.int64)).to(self.device)
        self._data_key = key
        self._set_moments()
        if self.config.mean_correction:
            self.real_class_mean = self._class_means(self._values, self._labels, self._mask)

    @staticmethod
    def _observed_mask(values: np.ndarray) -> np.ndarray | None:
        """Where ``values`` are observed (bool, their shape), or None when every point is:
        a NaN is a missing point (the architecture declares ``supports_missing``). An
        infinite value is refused (the core refuses it at import; it would poison the
        weights)."""
        missing = np.isnan(values)
        if np.isinf(values).any():
            where = tuple(int(i) for i in np.argwhere(np.isinf(values))[0])
            raise BadInputError("values", f"infinite value at (series, channel, point) {where}",
                                allowed="finite values, NaN for a missing point")
        return ~missing if missing.any() else None

    def _set_moments(self) -> None:
        """Per-class, per-point mean and std of the training set for the moment loss."""
        assert self._values is not None
        self.ctx.moment_weight = self.config.moment_weight
        if self.config.moment_weight <= 0:
            return
        if self._mask is not None:
            self._set_observed_moments()
            return
        k = self.n_classes if self.conditional else 1
        lab = self._labels if self._labels is not None else torch.zeros(
            len(self._values), dtype=torch.long, device=self.device)
        means, stds = [], []
        for c in range(k):
            x = self._values[lab == c]
            if len(x) < 2:  # a class without series (the C-GAN may still draw it): pooled
                x = self._values
            x = torch.cat((x, x.diff(dim=-1)), dim=-1)
            means.append(x.mean(0))
            stds.append(x.std(0))
        floor = 1e-3 * float(self._values.abs().max().clamp(min=1e-6))
        self.ctx.class_mean = torch.stack(means)
        self.ctx.class_std = torch.stack(stds).clamp(min=floor)

    def _set_observed_moments(self) -> None:
        """``_set_moments`` over observed points only (an increment counts where both its
        points are observed). A class with fewer than 2 observations at a point takes the
        pooled statistics there, as a class with fewer than 2 series does; a point with fewer
        than 2 in the whole set gets mean 0 and the floor's std (the loss is then weak there,
        never NaN)."""
        assert self._values is not None and self._mask is not None
        x, m = self._values.float(), self._mask.float()
        x = torch.cat((x, x.diff(dim=-1)), dim=-1)
        m = torch.cat((m, m[..., 1:] * m[..., :-1]), dim=-1)
        k = self.n_classes if self.conditional else 1
        lab = self._labels if self._labels is not None and k > 1 else torch.zeros(
            len(x), dtype=torch.long, device=self.device)

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
        floor = 1e-3 * float(self._values.abs().max().clamp(min=1e-6))
        self.ctx.class_mean = mean
        self.ctx.class_std = std.clamp(min=floor)

    def _class_means(self, values: torch.Tensor, labels: torch.Tensor | None,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-class, per-point mean (k, c, L) over observed points (``mask``, 1 = observed;
        ``values`` 0 where it is 0); NaN for a class without series, or without an observed
        value at a point."""
        k = self.n_classes if self.conditional else 1
        if mask is not None:
            lab = labels if labels is not None and k > 1 else torch.zeros(
                len(values), dtype=torch.long, device=values.device)
            zero = torch.zeros((k, *values.shape[1:]), device=values.device)
            sums = zero.index_add(0, lab, values.float() * mask)
            return sums / zero.index_add(0, lab, mask.float())  # 0 / 0: NaN, as below
        if labels is None or k == 1:
            return values.float().mean(0, keepdim=True)
        sums = torch.zeros((k, *values.shape[1:]), device=values.device).index_add_(
            0, labels, values.float())
        counts = torch.bincount(labels, minlength=k).to(sums.dtype)[:, None, None]
        return sums / counts  # 0 / 0: NaN, no real mean to match

    @torch.no_grad()
    def refresh_mean_gap(self) -> torch.Tensor | None:
        """The mean correction's gap (k, c, L): the real class mean minus the sampler's class
        mean, measured on a fixed draw of latents per class with any per-point noise at 0 (own
        generator: no trace on the training or sampling RNG, and the same weights always give
        the same gap). Measured again only after the generator has trained further; a model
        loaded without its data keeps the gap it was saved with. None when the option is
        off."""
        if not self.config.mean_correction:
            return None
        stale = self._gap_epoch != self.epochs_done or self.mean_gap is None
        if self.real_class_mean is None or not stale:
            return self.mean_gap
        k = self.real_class_mean.shape[0]
        low, high = CORRECTION_SERIES
        per_class = int(min(high, max(low, CORRECTION_VALUES // (self.config.n_channels
                                                                   * self.config.length))))
        labels = torch.arange(k).repeat_interleave(per_class) if self.conditional else None
        z = torch.randn(k * per_class, self.latent_dim,
                        generator=torch.Generator().manual_seed(self.config.seed + 2))
        net = self.sampler
        net.eval()
        sums = torch.zeros_like(self.real_class_mean)
        for s in range(0, len(z), 4096):
            y = None if labels is None else labels[s:s + 4096].to(self.device)
            zs = z[s:s + 4096].to(self.device)
            if self.config.noise_inputs:  # the per-point noise at its mean, 0: its share of
                # the output's mean is 0, and leaving it out takes most of the variance out of
                # the estimate (on the harmonics, the noise is 6x the latent's spread)
                set_noise_eps(net, torch.zeros((len(zs), *sums.shape[1:]), device=self.device))
            out = net(zs, y).float()
            if y is None:
                sums[0] += out.sum(0)
            else:
                sums.index_add_(0, y, out)
        set_noise_eps(net, None)
        net.train()
        gap = self.real_class_mean - sums / per_class
        self.mean_gap = torch.nan_to_num(gap, nan=0.0)  # a class without real series: as is
        self._gap_epoch = self.epochs_done
        return self.mean_gap

    def train_epoch(self, values: np.ndarray, labels: np.ndarray | None = None
                    ) -> dict[str, float]:
        """One pass over ``values`` (n, c, L) scaled to [-1, 1], NaN at a missing point
        (masked as ``synthts_gan.steps`` describes; a set without one takes the complete-data
        path, unchanged); returns mean losses."""
        self._to_device(values, labels)
        assert self._values is not None
        cfg = self.config
        self._schedule_lr()
        if cfg.private:
            return self._train_private_epoch()
        batch = fit_batch(self._values.shape[0], cfg.batch_size, cfg.block)
        mask = None
        if self._joined is None:
            data, lab = epoch_blocks(self._values, self._labels, batch, cfg.block, self.rng,
                                     augment=cfg.augment)
        else:  # the same draws as complete data; values and mask travel together
            joined, lab = epoch_blocks(self._joined, self._labels, batch, cfg.block, self.rng,
                                       augment=cfg.augment)
            c = cfg.n_channels
            data, mask = joined[..., :c, :].contiguous(), joined[..., c:, :].contiguous()
        self.gen.train()
        self.critic.train()
        n_blocks = data.shape[0]
        if self.use_graphs and mask is None:  # masked steps run eagerly (no graph capture)
            acc = self._graphed(data.shape[1:], lab is not None).run(data, lab)
        else:
            set_dropout_rng(self.critic, self.rng)
            set_noise_rng(self.gen, self.rng)
            acc = torch.zeros(len(LOSS_NAMES), device=self.device)
            for i in range(n_blocks):
                if mask is None:
                    self._block_fn(self.ctx, data[i], None if lab is None else lab[i], acc,
                                   cfg.gp_weight, self.rng)
                else:
                    self._block_fn(self.ctx, data[i], None if lab is None else lab[i], acc,
                                   cfg.gp_weight, self.rng, mask[i])
        self.epochs_done += 1
        values_out = (acc / n_blocks).tolist()  # the one host sync of the epoch
        names = LOSS_NAMES if self._block_fn is wgan_gp_block else LOSS_NAMES[:2]
        out = dict(zip(names, values_out, strict=False))
        out["samples"] = float(n_blocks * data.shape[1] * data.shape[2])
        return out

    # ------------------------------------------------------------------ privacy
    def _privacy_plan(self, n_series: int) -> dict[str, Any]:
        """Sample rate, steps per epoch, planned steps, delta and the noise multiplier that
        spends ``dp_epsilon`` in the planned steps, for a training set of ``n_series``. An
        epoch takes as many updates as a non-private one (N / batch critic updates)."""
        if self._dp_plan is not None and self._dp_plan["n_series"] == n_series:
            return self._dp_plan
        from synthts_core.privacy import calibrate, default_delta

        cfg = self.config
        assert cfg.dp_epsilon is not None
        if cfg.total_epochs <= 0:
            raise BadInputError("dp_epsilon", "needs the trial's planned epochs "
                                "(total_epochs) to set the noise", allowed="total_epochs >= 1")
        batch = fit_batch(n_series, cfg.batch_size, cfg.block)
        blocks = n_series // (batch * cfg.block)
        rate = batch / n_series
        planned = cfg.total_epochs * blocks * cfg.block
        delta = cfg.dp_delta if cfg.dp_delta is not None else default_delta(n_series)
        sigma = calibrate(cfg.dp_epsilon, delta, rate, planned)
        self._dp_plan = {"n_series": n_series, "batch": batch, "blocks": blocks, "rate": rate,
                         "planned": planned, "delta": delta, "sigma": sigma}
        return self._dp_plan

    @property
    def privacy_exhausted(self) -> bool:
        """Every planned DP step taken (the budget is spent); False without DP."""
        plan = self._dp_plan
        return plan is not None and self.dp_steps >= plan["planned"]

    def privacy_record(self, n_series: int) -> Any:
        """``synthts_core.privacy.PrivacyRecord`` for training on ``n_series`` (None without
        DP): the plan, the steps taken and the epsilon they spent."""
        if not self.config.private:
            return None
        from synthts_core.privacy import (
            NOT_COVERED,
            PrivacyRecord,
            accountant_name,
            epsilon_spent,
        )
        from synthts_gan.private import MECHANISM

        plan = self._privacy_plan(n_series)
        eps = epsilon_spent(plan["sigma"], plan["rate"], self.dp_steps, plan["delta"])
        not_covered = list(NOT_COVERED)
        if self._mask is not None:
            from synthts_gan.private import MISSING_NOT_COVERED

            not_covered.append(MISSING_NOT_COVERED)
        return PrivacyRecord(
            epsilon=eps, target_epsilon=float(self.config.dp_epsilon or 0.0),
            delta=plan["delta"], max_grad_norm=float(self.config.dp_max_grad_norm),
            noise_multiplier=plan["sigma"], sample_rate=plan["rate"], steps=self.dp_steps,
            planned_steps=plan["planned"], accountant=accountant_name(), mechanism=MECHANISM,
            not_covered=not_covered)

    def _train_private_epoch(self) -> dict[str, float]:
        """One epoch of DP steps (``synthts_gan.private``): as many as a non-private epoch,
        fewer when the plan has fewer left; none left is a ``BadInputError``."""
        from synthts_gan.private import DpStep, PoissonBatches, dp_block

        assert self._values is not None and self._dp_rng is not None
        cfg = self.config
        plan = self._privacy_plan(int(self._values.shape[0]))
        left = (plan["planned"] - self.dp_steps) // cfg.block
        n_blocks = min(plan["blocks"], left)
        if n_blocks <= 0:
            raise BadInputError("dp_epsilon", f"the budget is spent: {self.dp_steps} of "
                                f"{plan['planned']} planned steps taken",
                                allowed="a larger dp_epsilon or more planned epochs")
        family = FAMILIES[cfg.architecture]
        dp = DpStep(family, PoissonBatches(self._values, self._labels, plan["rate"],
                                           cfg.augment, self._mask),
                    plan["sigma"], cfg.dp_max_grad_norm, plan["batch"], self._dp_rng)
        self.gen.train()
        self.critic.train()
        set_dropout_rng(self.critic, self.rng)
        set_noise_rng(self.gen, self.rng)
        acc = torch.zeros(len(LOSS_NAMES), device=self.device)
        for _ in range(n_blocks):
            dp_block(self.ctx, dp, cfg.block, acc, cfg.gp_weight, self.rng)
            self.dp_steps += cfg.block
        self.epochs_done += 1
        values_out = (acc / n_blocks).tolist()
        names = LOSS_NAMES if family == "wgan" else LOSS_NAMES[:2]
        out = dict(zip(names, values_out, strict=False))
        out["samples"] = float(n_blocks * cfg.block * plan["batch"])  # expected
        return out

    def _schedule_lr(self) -> None:
        """Cosine decay of both learning rates over ``total_epochs``: large steps find the
        distribution, small ones at the end stop the generator jittering around it."""
        cfg = self.config
        if cfg.lr_schedule != "cosine" or cfg.total_epochs <= 0:
            return
        progress = min(1.0, self.epochs_done / cfg.total_epochs)
        factor = 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))
        for opt, base in ((self.opt_g, cfg.lr), (self.opt_d, cfg.lr * cfg.lr_d_ratio)):
            for group in opt.param_groups:
                if isinstance(group["lr"], torch.Tensor):  # capturable Adam on CUDA
                    group["lr"].fill_(base * factor)
                else:
                    group["lr"] = base * factor

    def _graphed(self, shape: torch.Size, has_labels: bool) -> _GraphedBlock:
        if self._graph is None or self._graph.shape != shape:
            self._graph = _GraphedBlock(self, shape, has_labels)
        return self._graph

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def generate(self, n: int, labels: np.ndarray | None = None, z: np.ndarray | None = None,
                 seed: int | None = None, label_weights: np.ndarray | None = None,
                 chunk: int = 4096, noise: np.ndarray | None = None) -> np.ndarray:
        """``n`` series (n, c, L) in [-1, 1]. ``z`` (n, latent_dim) fixes the latents; ``seed``
        draws them (on the CPU, so a seed gives the same latents on every device).
        ``label_weights`` (n, n_classes) mixes class conditionings instead of hard ``labels``;
        a conditional model given neither draws labels uniformly from ``seed``. ``noise``
        (n, c, L) fixes the per-point noise of a ``noise_inputs`` generator (see
        ``sampling_noise``)."""
        noise_t = None
        if noise is not None:
            shape = (n, self.config.n_channels, self.config.length)
            noise_t = torch.as_tensor(np.asarray(noise, np.float32))
            if not self.config.noise_inputs:
                raise BadInputError("noise", "this generator draws no noise of its own",
                                    allowed="no noise")
            if tuple(noise_t.shape) != shape:
                raise BadInputError("noise", f"got shape {tuple(noise_t.shape)}: the per-point "
                                    "noise must be (n, n_channels, length)",
                                    allowed=f"shape {shape}")
        rng = self._sampling_rng(seed)
        if z is None:
            zt = torch.randn(n, self.latent_dim, generator=rng)
        else:
            zt = torch.as_tensor(np.asarray(z, np.float32))
            if zt.shape != (n, self.latent_dim):
                raise BadInputError("z", f"got shape {tuple(zt.shape)}: z must be "
                                    "(n, latent_dim)", allowed=f"shape ({n}, {self.latent_dim})")
        lab_t = w_t = None
        if self.conditional:
            if label_weights is not None:
                w_t = torch.as_tensor(np.asarray(label_weights, np.float32))
                if w_t.shape != (n, self.n_classes):
                    raise BadInputError("label_weights", f"got shape {tuple(w_t.shape)}: "
                                        "label_weights must be (n, n_classes)",
                                        allowed=f"shape ({n}, {self.n_classes})")
            elif labels is not None:
                lab_t = torch.as_tensor(np.asarray(labels, np.int64)).reshape(-1)
                if lab_t.shape != (n,) or (n and (lab_t.min() < 0
                                                   or lab_t.max() >= self.n_classes)):
                    raise BadInputError("labels", f"labels must be {n} class indices, one per "
                                        "series", allowed=f"0..{self.n_classes - 1}")
            else:
                lab_t = torch.randint(0, self.n_classes, (n,), generator=rng)
        elif labels is not None or label_weights is not None:
            raise BadInputError("labels" if labels is not None else "label_weights",
                                f"{self.config.architecture} is unconditional: give no labels",
                                allowed="no labels")
        gap = self.refresh_mean_gap()
        net = self.sampler
        net.eval()
        noise_rng = torch.Generator(device=self.device)
        noise_rng.manual_seed(int(torch.randint(0, 2**62, (1,), generator=rng)))
        set_noise_rng(net, noise_rng)
        out = []
        for s in range(0, n, chunk):
            part = slice(s, s + chunk)
            y = None if lab_t is None else lab_t[part].to(self.device)
            w = None if w_t is None else w_t[part].to(self.device)
            if noise_t is not None:
                set_noise_eps(net, noise_t[part].to(self.device))
            x = net(zt[part].to(self.device), y, w).float()
            if gap is not None:
                x = (x + _gap_of(gap, y, w)).clamp(-1.0, 1.0)
            out.append(x.cpu())
        set_noise_rng(net, None)
        set_noise_eps(net, None)
        net.train()
        if not out:
            return np.zeros((0, self.config.n_channels, self.config.length), np.float32)
        return (out[0] if len(out) == 1 else torch.cat(out)).numpy()  # one chunk: no copy

    def _sampling_rng(self, seed: int | None) -> torch.Generator:
        """The CPU generator ``generate`` draws latents (then labels, then noise) from."""
        return torch.Generator().manual_seed(self.config.seed + 1 if seed is None else seed)

    @torch.no_grad()
    def sampling_latents(self, n: int, seed: int | None = None) -> np.ndarray:
        """The latents ``generate(n, seed=seed)`` draws, (n, latent_dim) float32."""
        return torch.randn(n, self.latent_dim, generator=self._sampling_rng(seed)).numpy()

    @torch.no_grad()
    def sampling_noise(self, n: int, seed: int | None = None, chunk: int = 4096
                       ) -> np.ndarray | None:
        """The per-point noise ``generate(n, labels=..., seed=seed)`` draws (labels given),
        drawn the same way (same generators, same chunks), so a request batched with others
        gets the series it gets alone. None for a generator without noise inputs."""
        if not self.config.noise_inputs:
            return None
        rng = self._sampling_rng(seed)
        torch.randn(n, self.latent_dim, generator=rng)  # the latents come first
        noise_rng = torch.Generator(device=self.device)
        noise_rng.manual_seed(int(torch.randint(0, 2**62, (1,), generator=rng)))
        shape = (self.config.n_channels, self.config.length)
        parts = [torch.randn((min(chunk, n - s), *shape), device=self.device,
                             generator=noise_rng).cpu() for s in range(0, n, chunk)]
        return torch.cat(parts).numpy() if parts else np.zeros((0, *shape), np.float32)

    # ------------------------------------------------------------------ persistence
    def weights(self) -> bytes:
        """Generator and critic weights as safetensors bytes (what a model version holds),
        with the mean correction's gap when it is on."""
        self.refresh_mean_gap()
        return save_state(self, with_training_state=False)

    def load_weights(self, data: bytes) -> None:
        load_state(self, data, with_training_state=False)

    def checkpoint(self) -> bytes:
        """Weights plus optimiser moments, RNG state and epoch count (safetensors), so a
        resumed trial continues exactly where it stopped; a DP trial's continues its step
        count and budget, with fresh noise (the DP generator is never saved: see
        ``synthts_gan.private``)."""
        return save_state(self, with_training_state=True)

    def load_checkpoint(self, data: bytes) -> None:
        load_state(self, data, with_training_state=True)
        self._graph = None  # optimiser state tensors moved: capture again


def _gap_of(gap: torch.Tensor, labels: torch.Tensor | None,
            weights: torch.Tensor | None) -> torch.Tensor:
    """The mean correction for each series: its class's gap, the mix of the classes' gaps for
    soft ``weights``, the one gap of an unconditional model."""
    if labels is not None:
        return gap[labels]
    if weights is not None:
        return (weights @ gap.flatten(1)).view(-1, *gap.shape[1:])
    return gap[0]


class _GraphedBlock:
    """A CUDA graph of one block step, with static input buffers and a static accumulator."""

    def __init__(self, trainer: GanTrainer, shape: torch.Size, has_labels: bool) -> None:
        self.t = trainer
        self.shape = shape
        dev = trainer.device
        self.real = torch.zeros(shape, device=dev)
        self.labels = torch.zeros(shape[:2], dtype=torch.long, device=dev) if has_labels else None
        self.acc = torch.zeros(len(LOSS_NAMES), device=dev)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.warm = 0

    def _eager(self) -> None:
        t = self.t
        set_dropout_rng(t.critic, None)
        set_noise_rng(t.gen, None)
        t._block_fn(t.ctx, self.real, self.labels, self.acc, t.config.gp_weight, None)

    def run(self, data: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        self.acc.zero_()
        for i in range(data.shape[0]):
            self.real.copy_(data[i], non_blocking=True)
            if self.labels is not None and labels is not None:
                self.labels.copy_(labels[i], non_blocking=True)
            if self.graph is not None:
                self.graph.replay()
            elif self.warm < WARMUP_BLOCKS:
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):
                    self._eager()
                torch.cuda.current_stream().wait_stream(stream)
                self.warm += 1
            else:
                graph = torch.cuda.CUDAGraph()
                saved = self.acc.clone()
                with torch.cuda.graph(graph):
                    self._eager()
                self.acc.copy_(saved)  # capture recorded but did not run the additions
                graph.replay()
                self.graph = graph
        return self.acc.clone()
