"""``GanTrainer``: owns the networks, optimisers and RNG of one GAN and trains it epoch by epoch.

Pure torch + numpy so the benchmark runs on a box without synthts installed. On CUDA the whole
block step (all critic and generator updates of ``n_critic`` batches, optimiser steps included)
is captured once as a CUDA graph and replayed with static input buffers (``graphed``); CPU runs
never touch CUDA graphs or autocast. Data with missing points trains eagerly (no graph): its
masked steps have not been measured on a GPU yet.

The rooms it uses, one job each: ``config`` (hyper-parameters), ``backbones`` (networks),
``optimisers`` (Adam and its schedule), ``training_set`` (the data on the device),
``epoch_data`` (an epoch's shuffled blocks), ``steps`` (the updates of a block, the penalty and
the moment loss), ``moments`` (the real statistics the moment loss compares with),
``mean_correction``, ``private`` and ``dp_accounting`` (differential privacy), ``sampling``,
``state`` (weights and checkpoints).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from synthts_gan._errors import BadInputError
from synthts_gan.backbones import NetSpec, build_networks, set_dropout_rng, set_noise_rng
from synthts_gan.config import FAMILIES, GanConfig, check_private
from synthts_gan.epoch_data import epoch_blocks, fit_batch
from synthts_gan.graphed import GraphedBlock
from synthts_gan.mean_correction import class_means, measure_gap
from synthts_gan.moments import class_moments
from synthts_gan.optimisers import build_optimisers, schedule_lr
from synthts_gan.sampling import (
    check_noise,
    conditioning,
    draw_noise,
    latents,
    noise_generator,
    run_generator,
    sampling_rng,
)
from synthts_gan.state import load_state, save_state
from synthts_gan.steps import LOSS_NAMES, StepContext, cgan_block, wgan_gp_block
from synthts_gan.training_set import (
    check_shape,
    data_key,
    observed_mask,
    upload_labels,
    upload_values,
)


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
        self.opt_g, self.opt_d = build_optimisers(self.gen, self.critic, config, self.device,
                                                  self.use_graphs)
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
        # masking code runs at all); ``_joined`` = values and mask as 2c channels
        # (``training_set``)
        self._mask: torch.Tensor | None = None
        self._joined: torch.Tensor | None = None
        self._graph: GraphedBlock | None = None
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

    @property
    def _k(self) -> int:
        """Classes the statistics are taken per (1 for an unconditional model)."""
        return self.n_classes if self.conditional else 1

    # ------------------------------------------------------------------ training
    _observed_mask = staticmethod(observed_mask)  # where values are observed (None: all)

    def _to_device(self, values: np.ndarray, labels: np.ndarray | None) -> None:
        """Upload once; later epochs on the same arrays reuse the device copy."""
        key = data_key(values, labels)
        if key == self._data_key:
            return
        check_shape(values, self.config)
        self._values, self._mask, self._joined = upload_values(
            values, self._observed_mask(values), self.device)
        self._labels = upload_labels(labels, len(values), self.device) \
            if self.conditional else None
        self._data_key = key
        self.ctx.moment_weight = self.config.moment_weight
        if self.config.moment_weight > 0:
            self.ctx.class_mean, self.ctx.class_std = class_moments(
                self._values, self._labels, self._mask, self._k)
        if self.config.mean_correction:
            self.real_class_mean = class_means(self._values, self._labels, self._k, self._mask)

    @torch.no_grad()
    def refresh_mean_gap(self) -> torch.Tensor | None:
        """The mean correction's gap (k, c, L) (``mean_correction``), measured again only
        after the generator has trained further; a model loaded without its data keeps the
        gap it was saved with. None when the option is off."""
        if not self.config.mean_correction:
            return None
        stale = self._gap_epoch != self.epochs_done or self.mean_gap is None
        if self.real_class_mean is None or not stale:
            return self.mean_gap
        self.mean_gap = measure_gap(self.sampler, self.real_class_mean, self.config,
                                    self.device)
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
        schedule_lr(self.opt_g, self.opt_d, cfg, self.epochs_done)
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
        return self._losses(acc, n_blocks, float(n_blocks * data.shape[1] * data.shape[2]))

    def _losses(self, acc: torch.Tensor, n_blocks: int, samples: float) -> dict[str, float]:
        """An epoch's mean losses (the C-GAN has no penalty) and the series it drew."""
        values_out = (acc / n_blocks).tolist()  # the one host sync of the epoch
        names = LOSS_NAMES if self._block_fn is wgan_gp_block else LOSS_NAMES[:2]
        out = dict(zip(names, values_out, strict=False))
        out["samples"] = samples
        return out

    def _graphed(self, shape: torch.Size, has_labels: bool) -> GraphedBlock:
        if self._graph is None or self._graph.shape != shape:
            self._graph = GraphedBlock(self, shape, has_labels)
        return self._graph

    # ------------------------------------------------------------------ privacy
    def _privacy_plan(self, n_series: int) -> dict[str, Any]:
        """``dp_accounting.privacy_plan`` for ``n_series``, made once."""
        if self._dp_plan is None or self._dp_plan["n_series"] != n_series:
            from synthts_gan.dp_accounting import privacy_plan

            self._dp_plan = privacy_plan(self.config, n_series)
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
        from synthts_gan.dp_accounting import privacy_record

        return privacy_record(self.config, self._privacy_plan(n_series), self.dp_steps,
                              masked=self._mask is not None)

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
        dp = DpStep(FAMILIES[cfg.architecture],
                    PoissonBatches(self._values, self._labels, plan["rate"], cfg.augment,
                                   self._mask),
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
        return self._losses(acc, n_blocks, float(n_blocks * cfg.block * plan["batch"]))

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
        noise_t = check_noise(noise, n, self.config)
        rng = sampling_rng(self.config, seed)
        zt = latents(n, self.latent_dim, z, rng)
        lab_t, w_t = conditioning(n, self.config, self.n_classes, labels, label_weights, rng)
        gap = self.refresh_mean_gap()
        return run_generator(self.sampler, zt, lab_t, w_t, noise_t,
                             noise_generator(rng, self.device), gap, self.config, self.device,
                             chunk)

    @torch.no_grad()
    def sampling_latents(self, n: int, seed: int | None = None) -> np.ndarray:
        """The latents ``generate(n, seed=seed)`` draws, (n, latent_dim) float32."""
        return latents(n, self.latent_dim, None, sampling_rng(self.config, seed)).numpy()

    def sampling_noise(self, n: int, seed: int | None = None, chunk: int = 4096
                       ) -> np.ndarray | None:
        """The per-point noise ``generate(n, labels=..., seed=seed)`` draws (labels given),
        so a request batched with others gets the series it gets alone. None for a generator
        without noise inputs."""
        return draw_noise(n, self.config, seed, self.device, chunk)

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
