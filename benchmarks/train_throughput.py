"""Training throughput on the seed's configuration, against a seed-style loop in the same run.

The seed's set: 10 harmonic classes (1..10 cycles per window, random phase), 10,000 series of
length 1024, batch 128; WGAN-GP with the seed's fully connected networks, 5 critic steps per
generator step, penalty 10, Adam 2e-4, betas (0.5, 0.999); the C-GAN likewise (least squares,
dropout 0.5). The baseline is written the way the seed wrote it: a DataLoader with worker
processes, ``np.roll`` per sample in ``__getitem__``, the generator's graph kept in the critic
loss, a ``.item()`` host sync per step. Epochs of the two loops alternate so a busy machine
slows both alike; the first epoch of each is warm-up and not timed, and each rate is the
median over the timed epochs.

Needs only torch and numpy::

    python benchmarks/train_throughput.py --model wgan_gp --device cuda --epochs 5

Prints one JSON object: model, device, samples_per_s, baseline_samples_per_s, ratio (+ context).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from synthts_gan.backbones import NetSpec, build_networks
from synthts_gan.config import GanConfig
from synthts_gan.trainer import GanTrainer

LENGTH, CLASSES, LATENT = 1024, 10, 100


def harmonic_set(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n series (n, 1, 1024): class k is a sine of k+1 cycles with a random phase, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % CLASSES
    t = np.arange(LENGTH) / LENGTH
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    values = np.sin(2 * np.pi * (labels[:, None] + 1) * t + phase)
    return values[:, None, :].astype(np.float32), labels.astype(np.int64)


# ------------------------------------------------------------------ the seed's way


class RollingSet(torch.utils.data.Dataset):
    """The seed's dataset: one series per ``__getitem__``, rolled by a random shift."""

    def __init__(self, values: np.ndarray, labels: np.ndarray) -> None:
        self.values, self.labels = values, labels

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int):
        shift = np.random.randint(0, self.values.shape[-1])
        return torch.from_numpy(np.roll(self.values[i], shift, axis=-1)), int(self.labels[i])


class SeedLoop:
    """The seed's training loops (train_gan_gp.py / train_cgan.py), same networks."""

    def __init__(self, model: str, device: torch.device, values, labels, workers: int) -> None:
        self.model, self.device = model, device
        family = "cgan" if model == "cgan" else "wgan"
        spec = NetSpec(family=family, backbone="mlp", latent_dim=LATENT, n_channels=1,
                       length=LENGTH, n_classes=CLASSES if model == "cgan" else 0,
                       embed_dim=CLASSES, dropout=0.5 if model == "cgan" else 0.0)
        gen, critic = build_networks(spec, seed=0)
        self.gen, self.critic = gen.to(device), critic.to(device)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.loader = torch.utils.data.DataLoader(
            RollingSet(values, labels), batch_size=128, shuffle=True, num_workers=workers,
            pin_memory=device.type == "cuda", drop_last=True)
        self.losses: list[float] = []

    def epoch(self) -> int:
        seen = 0
        for i, (x, y) in enumerate(self.loader):
            x, y = x.to(self.device), y.to(self.device)
            if self.model == "cgan":
                self._cgan_step(x, y)
            else:
                self._critic_step(x)
                if i % 5 == 0:
                    self._generator_step(x.shape[0])
            seen += x.shape[0]
        return seen

    def _noise(self, b: int) -> torch.Tensor:
        return torch.randn(b, LATENT, device=self.device)

    def _critic_step(self, real: torch.Tensor) -> None:
        fake = self.gen(self._noise(real.shape[0]))
        loss_real, loss_fake = self.critic(real).mean(), self.critic(fake).mean()
        alpha = torch.rand(real.shape[0], 1, 1, device=self.device).expand_as(real)
        mixed = (alpha * real.data + (1 - alpha) * fake.data).clone().requires_grad_(True)
        score = self.critic(mixed)
        grad = torch.autograd.grad(score, mixed, torch.ones_like(score), create_graph=True,
                                   retain_graph=True)[0].view(real.shape[0], -1)
        self.losses.append(grad.norm(2, dim=1).mean().item())
        gp = 10 * ((torch.sqrt(grad.pow(2).sum(1) + 1e-12) - 1) ** 2).mean()
        loss = loss_fake - loss_real + gp
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        self.losses += [gp.item(), loss.item()]

    def _generator_step(self, b: int) -> None:
        loss = -self.critic(self.gen(self._noise(b))).mean()
        self.opt_g.zero_grad()
        loss.backward()
        self.opt_g.step()
        self.losses.append(loss.item())

    def _cgan_step(self, real: torch.Tensor, y: torch.Tensor) -> None:
        b = real.shape[0]
        ones, zeros = torch.ones(b, device=self.device), torch.zeros(b, device=self.device)
        y_fake = torch.randint(0, CLASSES, (b,), device=self.device)
        fake = self.gen(self._noise(b), y_fake)
        loss_g = F.mse_loss(self.critic(fake, y_fake), ones)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        loss_d = (F.mse_loss(self.critic(real, y), ones)
                  + F.mse_loss(self.critic(fake.detach(), y_fake), zeros)) / 2
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        self.losses += [loss_g.item(), loss_d.item()]


# ------------------------------------------------------------------ main


def timed(fn) -> tuple[int, float]:
    start = time.perf_counter()
    seen = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return seen, time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["wgan_gp", "cgan"], default="wgan_gp")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per loop, first is warm-up")
    ap.add_argument("--n-series", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2, help="baseline DataLoader workers")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--no-graphs", action="store_true", help="CUDA: eager steps, no graphs")
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args(argv)
    if args.epochs < 2:
        ap.error("--epochs must be >= 2 (the first epoch is warm-up)")
    device = torch.device(args.device)
    values, labels = harmonic_set(args.n_series)
    cfg = GanConfig(architecture=args.model, backbone="mlp", latent_dim=LATENT,
                    embed_dim=CLASSES, lr=2e-4, beta1=0.5, beta2=0.999, batch_size=128,
                    n_critic=5, gp_weight=10.0, dropout=0.5, precision=args.precision,
                    cuda_graphs=not args.no_graphs, length=LENGTH, n_channels=1,
                    n_classes=CLASSES if args.model == "cgan" else 0, seed=0)
    ours = GanTrainer(cfg, device)
    feed = labels if args.model == "cgan" else None
    base = None if args.skip_baseline else SeedLoop(args.model, device, values, labels,
                                                    args.workers)
    ours_rates: list[float] = []
    base_rates: list[float] = []
    for epoch in range(args.epochs):
        seen, secs = timed(lambda: int(ours.train_epoch(values, feed)["samples"]))
        if epoch > 0:
            ours_rates.append(seen / secs)
        if base is not None:
            seen, secs = timed(base.epoch)
            if epoch > 0:
                base_rates.append(seen / secs)
    # median epoch: robust to a neighbour grabbing the CPU for one epoch
    rate = float(np.median(ours_rates))
    base_rate = float(np.median(base_rates)) if base_rates else None
    result = {
        "model": args.model, "device": args.device,
        "samples_per_s": round(rate, 1),
        "baseline_samples_per_s": None if base_rate is None else round(base_rate, 1),
        "ratio": None if base_rate is None else round(rate / base_rate, 3),
        "card": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "epochs_timed": args.epochs - 1, "n_series": args.n_series,
        "precision": args.precision, "cuda_graphs": device.type == "cuda" and not args.no_graphs,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
