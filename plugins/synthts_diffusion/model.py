"""``DiffusionModel``: trains and samples one conditional diffusion model, epoch by epoch.

Training (per batch): draw times ``t`` uniformly, noise the clean series with the cosine
schedule, predict the clean series, and minimise its squared error plus ``fft_weight`` times the
L1 error of its spectrum (Diffusion-TS's Fourier term: a squared error alone is blind to which
frequencies the residual sits in, and a detector is not). The class is dropped to "no class"
with probability ``cond_drop`` so one network also learns the unconditional model that
classifier-free guidance (Ho & Salimans 2022) needs. The network's output is preconditioned as in
Karras et al. (2022): the estimate is a noise-level-dependent mix of the input and the network,
so at low noise the network only corrects what the input already says.

Missing points (NaN in the training values: the architecture declares ``supports_missing``).
As in masked-loss training of diffusion models on incomplete data (CSDI, Tashiro et al. 2021;
Ambient Diffusion, Daras et al. 2023), a missing point never counts in the loss: the squared
error is summed over observed points and divided by their count, and the spectral term is taken
of the residual at observed points only (zero at missing ones), each row's spectrum scaled by
points / observed points, so that under points missing at random it is an unbiased estimate of
the whole residual's spectrum. What the network sees at a missing point of the noised series
``x_t``: the linear interpolation of the *noised* observed points around it plus fresh noise of
the variance an interpolation loses. Why: sampling generates every point, so the network keeps
its one input (no mask channel it would see all-observed only at sampling), and a missing point
should look like an observed one at the same noise level while telling the network nothing about
a target that the sampling-time input would not (the care Ambient Diffusion takes over what the
network may see of what it is scored on). Filling the *clean* series by interpolation and then
noising it breaks that: a filled point holds its neighbours' clean values under independent
noise, a second look at them, so the network learns to read a point's value off its neighbours
and, at sampling, where neighbours are independent, blends them. On the harmonics (20 % of
points missing at random, 60 epochs) that model's noise came out correlated from point to point
(lag-1 autocorrelation 0.13, against 0.04 for the model trained on complete data and 0.01 for
the data) and its worst-class detector rose from 0.668 to 0.785; the clean fill with its lost
variance restored still gave 0.12 and 0.763; this input gives 0.03 and 0.665. (Masked losses with
the true values as input gave 0.04 and 0.685: the losses were not the trouble.) The
interpolation is only ever an input, never a target. A batch with no missing point runs the code
complete data always ran and draws nothing more, so complete data train exactly as before (the
same losses for the same seed).

Sampling solves the probability-flow ODE deterministically (DPM-Solver++(2M), or DDIM) from
initial noise ``z`` (n, channels * length): the same
weights, ``z`` and labels give the same series; a seed draws ``z`` on the CPU, so a seed gives
the same series on every device.

Series longer than the training window (``generate(..., length=N)``) are painted window by
window: each next window overlaps the last by half a window, and while it is sampled that half
is held to what was already generated (replacement inpainting: at every step the known points
of the noisy series are set to the known series noised to that step's level with the window's
own initial noise, and the network's clean estimate takes the known points; reconstruction
guidance moves the estimate towards agreeing with them, ``CONTINUATION_GUIDANCE``), so the new
half continues the old one rather than being joined to it. Why this and not an autoregressive model
or a longer network: the trained network stays the only model (no second one to train), each
window is an in-distribution window, and the half of context carries phase, level and class
into the next. ``z`` is then every window's initial noise, (n, windows * channels * window).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from synthts_diffusion._errors import BadInputError
from synthts_diffusion.config import DiffusionConfig
from synthts_diffusion.denoiser import Denoiser
from synthts_diffusion.schedule import CosineSchedule, ODESampler

SIGMA_DATA = 0.5  # spread of data scaled to [-1, 1], for the preconditioning
T_MIN = 1e-3  # smallest training time: below it the task is the identity
GRAD_CLIP = 1.0
# tokens per sampling pass: activations that stay in cache (on 2 cores, 256 series of 32 tokens
# a pass sampled 1000 x 256 points in 2.8 s; 1000 series a pass took 3.4-3.8 s)
CHUNK_TOKENS = 8192
P_MEAN, P_STD = -1.2, 1.2  # log-normal training noise levels (edm weighting)
LOSS_NAMES = ("loss", "mse", "spectral")
MAX_LENGTH_FACTOR = 64  # longest series generate paints: this many training windows
# Reconstruction guidance of a continued window: its clean estimate moves against the gradient
# of its miss on the known points. Replacement alone decides a new window's coarse shape (its
# phase) at high noise, where the known half is invisible, and then blurs the two together: on
# two-class sines (64-point windows, 8 windows) the detector told windows straddling the joins
# from real ones at 0.82 / 0.82 against 0.68 / 0.63 for single windows, and the amplitude sank
# 4 %; with this weight 2 it was 0.72 / 0.68, the amplitude within 2 %, for about 2.2 times the
# sampling time (one backward pass a step)
CONTINUATION_GUIDANCE = 2.0


def residual_variance(values: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per channel, the variance ``v`` of a point about the line through its two neighbours,
    from observed points whose two neighbours are observed (``x_i - (x_{i-1} + x_{i+1}) / 2``
    has variance 1.5 v for white residuals); 0 where no such point exists. (c,)"""
    mid = seen[..., 1:-1] & seen[..., :-2] & seen[..., 2:]
    with np.errstate(invalid="ignore"):
        e = values[..., 1:-1] - 0.5 * (values[..., :-2] + values[..., 2:])
    e = np.where(mid, e, 0.0)
    counts = mid.sum(axis=(0, 2))
    return np.where(counts > 0, (e * e).sum(axis=(0, 2)) / np.maximum(counts, 1) / 1.5,
                    0.0).astype(np.float32)


def gap_neighbours(seen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every point, the nearest observed point before and after it in its row (indices
    clipped into the row) and the linear-interpolation weights on them: (a, b) with a + b = 1
    between two observed points, (0, 1) before the first and (1, 0) after the last; (0, 0) in a
    row with no observed point."""
    length = seen.shape[-1]
    grid = np.broadcast_to(np.arange(length), seen.shape)
    prev = np.maximum.accumulate(np.where(seen, grid, -1), axis=-1)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(seen, grid, length), -1), axis=-1),
                  -1)
    has_prev, has_next = prev >= 0, nxt < length
    both = has_prev & has_next
    span = np.maximum(nxt - prev, 1)
    a = np.where(both, (nxt - grid) / span, has_prev.astype(np.float64))
    b = np.where(both, (grid - prev) / span, (has_next & ~has_prev).astype(np.float64))
    return (np.clip(prev, 0, length - 1).astype(np.int32),
            np.clip(nxt, 0, length - 1).astype(np.int32), a.astype(np.float32),
            b.astype(np.float32))


def windows_for(length: int, window: int) -> tuple[int, int]:
    """(windows, stride) that paint ``length`` points from windows of ``window`` points
    overlapping by half a window (the stride is what each next window adds)."""
    stride = window - window // 2
    return 1 + max(0, math.ceil((length - window) / stride)), stride


class DiffusionModel:
    """Train and sample one diffusion model (the ``GenerativeModel`` contract)."""

    latent_kind = "initial_noise"
    extends_length = True  # generate(length=N) paints series longer than the window

    def __init__(self, config: DiffusionConfig, device: str | torch.device = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.conditional = bool(config.conditional)
        self.n_classes = max(config.n_classes, 1) if self.conditional else 0
        # weights from the config's seed, built on the CPU (every device starts alike); the
        # fork leaves no trace on the global RNG
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.net = Denoiser(config.n_channels, config.length, self.n_classes,
                                d_model=config.d_model, layers=config.layers,
                                heads=config.heads, patch=config.patch_size,
                                harmonics=config.harmonics).to(self.device)
        self.ema = copy.deepcopy(self.net).requires_grad_(False) \
            if config.ema_decay > 0 else None
        extra = {"fused": True} if self.device.type == "cpu" else {}
        self.opt = torch.optim.Adam(self.net.parameters(), lr=config.lr, betas=(0.9, 0.99),
                                    **extra)
        self.schedule = CosineSchedule()
        self.sampler = ODESampler(self.schedule, config.sampling_steps, config.sampler)
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(config.seed)
        self.epochs_done = 0
        self.updates = 0
        self._data_key: tuple | None = None
        self._values: torch.Tensor | None = None
        self._observed: torch.Tensor | None = None  # None when no point is missing
        self._gaps: dict[str, torch.Tensor] = {}
        self._labels: torch.Tensor | None = None

    # ------------------------------------------------------------------ declarations
    @property
    def latent_dim(self) -> int:
        """The initial noise of one series, flattened: (channels * length)."""
        return self.config.n_channels * self.config.length

    @property
    def guided(self) -> bool:
        return self.conditional and self.config.guidance_scale != 1.0

    @property
    def sample_cost(self) -> float:
        """Network passes per series, against a GAN generator's one."""
        return float(self.config.sampling_steps * (2 if self.guided else 1))

    @property
    def sampling_net(self) -> Denoiser:
        return self.ema if self.ema is not None else self.net

    # ------------------------------------------------------------------ training
    def _predict(self, net: Denoiser, x_t: torch.Tensor, t: torch.Tensor,
                 cond: torch.Tensor | None) -> torch.Tensor:
        ab = self.schedule.alpha_bar(t).view(-1, 1, 1)
        var = ab * SIGMA_DATA**2 + (1 - ab)
        c_skip = ab.sqrt() * SIGMA_DATA**2 / var
        c_out = SIGMA_DATA * (1 - ab).sqrt() / var.sqrt()
        return c_skip * x_t + c_out * net(x_t / var.sqrt(), t, cond)

    def _one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(labels, self.n_classes + 1).float()

    def _to_device(self, values: np.ndarray, labels: np.ndarray | None) -> None:
        key = (id(values), values.shape, None if labels is None else id(labels))
        if key == self._data_key:
            return
        if values.ndim != 3 or values.shape[1:] != (self.config.n_channels, self.config.length):
            raise BadInputError("values", f"got shape {values.shape}", allowed=(
                f"(n, {self.config.n_channels}, {self.config.length})"))
        values = np.asarray(values, np.float32)
        if np.isinf(values).any():
            where = tuple(int(i) for i in np.argwhere(np.isinf(values))[0])
            raise BadInputError("values", f"infinite value at (series, channel, point) "
                                f"{where}", allowed="finite values, NaN where a point is missing")
        gaps = np.isnan(values)
        self._observed, self._gaps = None, {}
        if gaps.any():
            if gaps.all():
                raise BadInputError("values", "no point is observed (all NaN)",
                                    allowed="at least one observed point")
            self._observed = torch.as_tensor(~gaps, device=self.device)
            prev, nxt, wa, wb = gap_neighbours(~gaps)
            dev = self.device
            self._gaps = {"prev": torch.as_tensor(prev, device=dev),
                          "next": torch.as_tensor(nxt, device=dev),
                          "a": torch.as_tensor(wa, device=dev),
                          "b": torch.as_tensor(wb, device=dev),
                          "redraw": torch.as_tensor(gaps & ((wa + wb) > 0), device=dev),
                          "var": torch.as_tensor(residual_variance(values, ~gaps),
                                                 device=dev).view(1, -1, 1)}
            # a missing point's clean value is never a target and never seen (``_noised_gaps``
            # redraws it), except in a row with no observed point: there, the channel's mean
            counts = np.maximum((~gaps).sum(axis=(0, 2)), 1)
            means = (np.where(gaps, 0.0, values).sum(axis=(0, 2)) / counts).astype(np.float32)
            values = np.where(gaps, means[None, :, None], values)
        self._values = torch.as_tensor(values, device=self.device)
        self._labels = None
        if self.conditional:
            lab = np.zeros(len(values), np.int64) if labels is None else np.asarray(labels)
            if len(lab) and (lab.min() < 0 or lab.max() >= self.n_classes):
                raise BadInputError("labels", "out of range", allowed=f"0..{self.n_classes - 1}")
            self._labels = torch.as_tensor(lab.astype(np.int64), device=self.device)
        self._data_key = key

    def _schedule_lr(self) -> None:
        cfg = self.config
        factor = 1.0
        if cfg.lr_schedule == "cosine" and cfg.total_epochs > 0:
            progress = min(1.0, self.epochs_done / cfg.total_epochs)
            factor = 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))
        for group in self.opt.param_groups:
            group["lr"] = cfg.lr * factor

    def train_epoch(self, values: np.ndarray, labels: np.ndarray | None = None
                    ) -> dict[str, float]:
        """One pass over ``values`` (n, c, L) scaled to [-1, 1], NaN where a point is missing,
        in shuffled batches (the remainder waits for the next epoch's permutation); returns mean
        losses (a batch's losses over its observed points: the module docstring says how)."""
        self._to_device(values, labels)
        assert self._values is not None
        cfg = self.config
        n = self._values.shape[0]
        if n < 2:
            raise BadInputError("dataset", f"need at least 2 series to train; got {n}",
                                allowed="at least 2 series")
        self._schedule_lr()
        batch = min(cfg.batch_size, n)
        steps = n // batch
        perm = torch.randperm(n, generator=self.rng, device=self.device)
        dev, rng = self.device, self.rng
        totals = torch.zeros(len(LOSS_NAMES), device=dev)
        self.net.train()
        for i in range(steps):
            idx = perm[i * batch:(i + 1) * batch]
            x0 = self._values[idx]
            t = self._training_times(batch)
            noise = torch.randn(x0.shape, generator=rng, device=dev)
            cond = None
            if self._labels is not None:
                y = self._labels[idx]
                drop = torch.rand(batch, generator=rng, device=dev) < cfg.cond_drop
                cond = self._one_hot(torch.where(drop, self.n_classes, y))
            seen = None if self._observed is None else self._observed[idx]
            complete = seen is None or bool(seen.all())
            x_t = self.schedule.add_noise(x0, noise, t)
            if not complete:
                x_t = self._noised_gaps(x_t, t, idx)
            x0_hat = self._predict(self.net, x_t, t, cond)
            if complete:
                mse = (self._loss_weight(t) * (x0_hat - x0).pow(2)).mean()
                spectral = (torch.fft.rfft(x0_hat, norm="ortho")
                            - torch.fft.rfft(x0, norm="ortho")).abs().mean()
            else:
                mse, spectral = self._masked_losses(x0_hat, x0, t, seen)
            loss = mse + cfg.fft_weight * spectral
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), GRAD_CLIP)
            self.opt.step()
            self._update_ema()
            totals += torch.stack((loss.detach(), mse.detach(), spectral.detach()))
        self.epochs_done += 1
        out = dict(zip(LOSS_NAMES, (totals / max(steps, 1)).tolist(), strict=True))
        out["samples"] = float(steps * batch)
        return out

    def _noised_gaps(self, x_t: torch.Tensor, t: torch.Tensor, idx: torch.Tensor
                     ) -> torch.Tensor:
        """``x_t`` of the series ``idx`` with each missing point redrawn from the noised
        observed points around it: their linear interpolation plus fresh noise of the variance
        the interpolation lost, ``(1 - a^2 - b^2) ((1 - alpha_bar) + alpha_bar v)`` (the
        diffusion noise's and the series' own point-to-point variance ``v``), so a missing
        point varies like an observed one yet tells the network nothing about any target it
        does not see at that target itself (the module docstring says why)."""
        g = self._gaps
        a, b = g["a"][idx], g["b"][idx]
        guess = (a * x_t.gather(-1, g["prev"][idx].long())
                 + b * x_t.gather(-1, g["next"][idx].long()))
        ab = self.schedule.alpha_bar(t).view(-1, 1, 1)
        var = (1 - a * a - b * b).clamp_min(0.0) * ((1 - ab) + ab * g["var"])
        z = torch.randn(x_t.shape, generator=self.rng, device=self.device)
        return torch.where(g["redraw"][idx], guess + var.sqrt() * z, x_t)

    def _masked_losses(self, x0_hat: torch.Tensor, x0: torch.Tensor, t: torch.Tensor,
                       seen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The weighted squared error over the observed points (``seen``) divided by their
        count, and the spectral L1 error of the residual with missing points set to zero, each
        (series, channel) row's spectrum scaled by points / observed points (the expected
        spectrum of a residual seen at a random share p of its points is p times its own) and
        averaged over the rows with an observed point. Both equal the unmasked losses when every
        point is observed; neither depends on the network's output at a missing point."""
        mask = seen.to(x0.dtype)
        residual = (x0_hat - x0) * mask
        mse = (self._loss_weight(t) * residual.pow(2)).sum() / mask.sum().clamp_min(1.0)
        count = mask.sum(dim=-1)  # (batch, c) observed points per row
        rows = count > 0
        per_row = torch.fft.rfft(residual, norm="ortho").abs().mean(dim=-1)
        scale = x0.shape[-1] / count.clamp_min(1.0)
        spectral = (per_row * scale)[rows].sum() / rows.sum().clamp_min(1)
        return mse, spectral

    def _training_times(self, batch: int) -> torch.Tensor:
        """Training times: uniform, or (``edm``) noise levels log-normal around the data's
        spread (Karras et al. 2022), mapped to times through the schedule."""
        rng, dev = self.rng, self.device
        if self.config.noise_weighting != "edm":
            return T_MIN + (1 - T_MIN) * torch.rand(batch, generator=rng, device=dev)
        log_sigma = P_MEAN + P_STD * torch.randn(batch, generator=rng, device=dev)
        ab = torch.sigmoid(-2 * log_sigma)  # sigma^2 = (1 - ab) / ab
        t = self.schedule.times_of(ab)
        return t.clamp(T_MIN, 1.0)

    def _loss_weight(self, t: torch.Tensor) -> torch.Tensor | float:
        """``edm``: 1 / c_out^2, so every noise level's error counts alike in the network's own
        units; uniform: 1."""
        if self.config.noise_weighting != "edm":
            return 1.0
        ab = self.schedule.alpha_bar(t).view(-1, 1, 1)
        var = ab * SIGMA_DATA**2 + (1 - ab)
        return var / (SIGMA_DATA**2 * (1 - ab))

    @torch.no_grad()
    def _update_ema(self) -> None:
        self.updates += 1
        if self.ema is None:
            return
        decay = min(self.config.ema_decay, (1 + self.updates) / (10 + self.updates))
        for avg, live in zip(self.ema.parameters(), self.net.parameters(), strict=True):
            avg.lerp_(live, 1 - decay)

    # ------------------------------------------------------------------ sampling
    def _sampling_rng(self, seed: int | None) -> torch.Generator:
        return torch.Generator().manual_seed(self.config.seed + 1 if seed is None else seed)

    def latent_size(self, length: int | None = None) -> int:
        """Size of one series' ``z`` for ``length`` points: one window's initial noise
        (``latent_dim``) for the trained length, every window's for a longer series."""
        if length is None or length == self.config.length:
            return self.latent_dim
        return windows_for(self._check_length(length), self.config.length)[0] * self.latent_dim

    def _check_length(self, length: int) -> int:
        window = self.config.length
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or not (
                window <= length <= MAX_LENGTH_FACTOR * window):
            raise BadInputError("length", f"got {length!r}", allowed=(
                f"an integer from the trained length {window} to "
                f"{MAX_LENGTH_FACTOR * window} ({MAX_LENGTH_FACTOR} windows)"))
        return int(length)

    @torch.no_grad()
    def sampling_latents(self, n: int, seed: int | None = None, length: int | None = None
                         ) -> np.ndarray:
        """The initial noise ``generate(n, seed=seed, length=length)`` starts from,
        (n, latent_size(length))."""
        return torch.randn(n, self.latent_size(length),
                           generator=self._sampling_rng(seed)).numpy()

    def sampling_noise(self, n: int, seed: int | None = None) -> None:
        """The deterministic samplers draw nothing after the initial noise."""
        return None

    def _conditions(self, n: int, labels: np.ndarray | None, label_weights: np.ndarray | None,
                    rng: torch.Generator) -> torch.Tensor | None:
        """(n, n_classes + 1) class weights; None for an unconditional model."""
        if not self.conditional:
            if labels is not None or label_weights is not None:
                raise BadInputError("labels" if labels is not None else "label_weights",
                                    "this diffusion model is unconditional: give no labels",
                                    allowed="no labels")
            return None
        k = self.n_classes
        if label_weights is not None:
            w = torch.as_tensor(np.asarray(label_weights, np.float32))
            if w.shape != (n, k) or not torch.isfinite(w).all():
                raise BadInputError("label_weights", f"got shape {tuple(w.shape)}: "
                                    "label_weights must be (n, n_classes), finite",
                                    allowed=f"shape ({n}, {k})")
            return torch.cat((w, torch.zeros(n, 1)), dim=1)
        if labels is not None:
            lab = torch.as_tensor(np.asarray(labels, np.int64)).reshape(-1)
            if lab.shape != (n,) or (n and (lab.min() < 0 or lab.max() >= k)):
                raise BadInputError("labels", f"labels must be {n} class indices, one per "
                                    "series", allowed=f"0..{k - 1}")
        else:
            lab = torch.randint(0, k, (n,), generator=rng)
        return self._one_hot(lab)

    @torch.no_grad()
    def generate(self, n: int, labels: np.ndarray | None = None, z: np.ndarray | None = None,
                 seed: int | None = None, label_weights: np.ndarray | None = None,
                 noise: np.ndarray | None = None, chunk: int | None = None,
                 length: int | None = None) -> np.ndarray:
        """``n`` series (n, c, length) in [-1, 1] by ``sampling_steps`` ODE steps from the
        initial noise ``z`` (n, latent_size(length)), or from noise drawn from ``seed``.
        Conditional: ``labels`` (n,) or ``label_weights`` (n, n_classes) mixing the class
        embeddings, or classes drawn from ``seed`` when neither is given. ``length`` (default
        the trained length, up to ``MAX_LENGTH_FACTOR`` times it): longer series are painted
        window by window (the module docstring says how)."""
        if noise is not None:
            raise BadInputError("noise", "a diffusion model draws no per-point noise of its "
                                "own (its sampler is deterministic)", allowed="no noise")
        rng = self._sampling_rng(seed)
        cfg = self.config
        length = cfg.length if length is None else self._check_length(length)
        size = self.latent_size(length)
        if z is None:
            zt = torch.randn(n, size, generator=rng)
        else:
            zt = torch.as_tensor(np.asarray(z, np.float32))
            if zt.shape != (n, size):
                raise BadInputError("z", f"got shape {tuple(zt.shape)}: z must be "
                                    "(n, windows * channels * window length)",
                                    allowed=f"shape ({n}, {size})")
        cond = self._conditions(n, labels, label_weights, rng)
        net = self.sampling_net
        net.eval()
        chunk = chunk or max(1, CHUNK_TOKENS // net.tokens)
        out = []
        for s in range(0, n, chunk):
            c = None if cond is None else cond[s:s + chunk].to(self.device)
            out.append(self._paint(net, zt[s:s + chunk].to(self.device), c, length).cpu())
        net.train()
        if not out:
            return np.zeros((0, cfg.n_channels, length), np.float32)
        return (out[0] if len(out) == 1 else torch.cat(out)).numpy()

    def _paint(self, net: Denoiser, z: torch.Tensor, cond: torch.Tensor | None,
               length: int) -> torch.Tensor:
        """Series of ``length`` points from ``z`` (n, windows * c * window): the first window
        as usual, each next one sampled with its first half held to the series so far."""
        c, window = self.config.n_channels, self.config.length
        count, stride = windows_for(length, window)
        noise = z.view(len(z), count, c, window)
        series = self._sample(net, noise[:, 0], cond)
        for k in range(1, count):
            keep = window - stride  # the overlap: the last points painted so far
            known = series[..., -keep:]
            part = self._sample(net, noise[:, k], cond, known=known)
            series = torch.cat((series, part[..., keep:]), dim=-1)
        return series[..., :length]

    def _sample(self, net: Denoiser, x: torch.Tensor, cond: torch.Tensor | None,
                known: torch.Tensor | None = None) -> torch.Tensor:
        """One window from its initial noise ``x``; ``known`` (n, c, k): the window's first
        ``k`` points are held to it (replacement inpainting)."""
        guided = self.guided and cond is not None
        if guided:
            assert cond is not None
            null = self._one_hot(torch.full((len(x),), self.n_classes, device=x.device))
            cond = torch.cat((cond, null))
        k = 0 if known is None else known.shape[-1]
        initial = x

        def predict(x_t: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
            if guided:
                both = self._predict(net, torch.cat((x_t, x_t)), torch.cat((tt, tt)), cond)
                cc, u = both.chunk(2)
                return u + self.config.guidance_scale * (cc - u)
            return self._predict(net, x_t, tt, cond)

        def estimate(x_t: torch.Tensor, t: float) -> torch.Tensor:
            tt = torch.full((len(x_t),), t, device=x_t.device)
            if k:  # the known points at this step's noise level, from the window's own noise
                ab = self.schedule.alpha_bar(torch.tensor(t, device=x_t.device))
                x_t = x_t.clone()
                x_t[..., :k] = ab.sqrt() * known + (1 - ab).sqrt() * initial[..., :k]
            if k and CONTINUATION_GUIDANCE:  # reconstruction guidance (Ho et al. 2022)
                with torch.enable_grad():
                    xv = x_t.detach().requires_grad_(True)
                    x0 = predict(xv, tt)
                    miss = (x0[..., :k] - known).pow(2).sum()
                    (grad,) = torch.autograd.grad(miss, xv)
                x0 = (x0 - CONTINUATION_GUIDANCE * 0.5 * ab.sqrt() * grad).detach()
            else:
                x0 = predict(x_t, tt)
            x0 = x0.clamp(-1.0, 1.0)
            if k:
                x0[..., :k] = known
            return x0

        return self.sampler.sample(x, estimate).float()

    # ------------------------------------------------------------------ persistence
    def weights(self) -> bytes:
        from synthts_diffusion.state import save_state

        return save_state(self, with_training_state=False)

    def load_weights(self, data: bytes) -> None:
        from synthts_diffusion.state import load_state

        load_state(self, data, with_training_state=False)

    def checkpoint(self) -> bytes:
        from synthts_diffusion.state import save_state

        return save_state(self, with_training_state=True)

    def load_checkpoint(self, data: bytes) -> None:
        from synthts_diffusion.state import load_state

        load_state(self, data, with_training_state=True)
