"""The noise schedule and the deterministic samplers, apart from the network (as diffusers keeps them).

Time is continuous, ``t`` in [0, 1]: training draws any ``t``, and the sampler takes any
number of steps on the same trained network, so the step count is a sampling choice, not a
training one. The network predicts the clean series ``x0``; the samplers solve the
probability-flow ODE deterministically, so the initial noise alone fixes a series (the family's
latent).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch


class CosineSchedule:
    """Signal share ``alpha_bar(t) = cos^2(pi/2 (t + s) / (1 + s))`` normalised to 1 at
    ``t = 0`` (Nichol & Dhariwal 2021): it spends more of the range at moderate noise than a
    linear schedule, which matters for short series whose structure vanishes early."""

    def __init__(self, offset: float = 0.008, floor: float = 1e-5) -> None:
        self.offset = offset
        self.floor = floor
        self._norm = math.cos(0.5 * math.pi * offset / (1 + offset)) ** 2

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        f = torch.cos(0.5 * math.pi * (t + self.offset) / (1 + self.offset)) ** 2 / self._norm
        return f.clamp(self.floor, 1.0)

    def times_of(self, alpha_bar: torch.Tensor) -> torch.Tensor:
        """The times whose signal share is ``alpha_bar`` (the schedule's inverse)."""
        c = (alpha_bar * self._norm).clamp(0.0, 1.0).sqrt()
        return torch.acos(c) * (2 / math.pi) * (1 + self.offset) - self.offset

    def time_of(self, sigma: float) -> float:
        """The time whose noise-to-signal ratio ``sqrt((1 - ab) / ab)`` is ``sigma``."""
        ab = 1.0 / (1.0 + sigma * sigma)
        c = min(1.0, math.sqrt(ab * self._norm))
        return max(0.0, min(1.0, math.acos(c) * 2 / math.pi * (1 + self.offset) - self.offset))

    def sigma_of(self, t: float) -> float:
        ab = float(self.alpha_bar(torch.tensor(t)))
        return math.sqrt((1 - ab) / ab)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t`` for clean ``x0`` (n, c, L), unit Gaussian ``noise`` and times ``t`` (n,)."""
        ab = self.alpha_bar(t).view(-1, 1, 1)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


RHO = 7.0


class ODESampler:
    """Deterministic sampling of the probability-flow ODE over ``steps`` evenly spaced times
    from 1 to 0, from the network's clean-series estimates.

    ``ddim``: DDIM with ``eta = 0`` (Song et al. 2021), first order: the noise implied by the
    estimate is kept and the signal share moves to the next time. ``dpmpp_2m``: DPM-Solver++(2M)
    (Lu et al. 2022), the same ODE to second order by reusing the previous estimate. The last
    step is first order either way (its estimate is the series).
    """

    KINDS = ("ddim", "dpmpp_2m")

    def __init__(self, schedule: CosineSchedule, steps: int, kind: str = "dpmpp_2m",
                 t_min: float = 1e-3) -> None:
        if steps < 1:
            raise ValueError("steps must be >= 1")
        if kind not in self.KINDS:
            raise ValueError(f"sampler must be one of {self.KINDS}")
        self.schedule = schedule
        self.steps = steps
        self.kind = kind
        self.t_min = t_min

    def times(self) -> list[tuple[float, float]]:
        """(t, t_next) pairs from 1 to ``t_min``, then to 0 (the clean series), spaced as
        Karras et al. (2022) space noise levels (rho = 7): most steps at low noise, where the
        fine detail (a series' white noise) is decided; evenly spaced times gave that stretch
        one step in twenty and lost half the noise's spread."""
        sched = self.schedule
        if self.steps == 1:
            return [(1.0, 0.0)]
        hi, lo = sched.sigma_of(1.0) ** (1 / RHO), sched.sigma_of(self.t_min) ** (1 / RHO)
        n = self.steps
        grid = [sched.time_of((hi + i / (n - 1) * (lo - hi)) ** RHO) if n > 1 else 1.0
                for i in range(n)] + [0.0]
        grid[0] = 1.0
        return list(itertools.pairwise(grid))

    def _coefficients(self, t: float) -> tuple[float, float]:
        ab = float(self.schedule.alpha_bar(torch.tensor(t)))
        return math.sqrt(ab), math.sqrt(max(0.0, 1.0 - ab))

    def sample(self, x: torch.Tensor, estimate: Callable[[torch.Tensor, float], torch.Tensor]
               ) -> torch.Tensor:
        """From ``x`` at t = 1 to the clean series; ``estimate(x_t, t)`` is the network's
        clean-series estimate."""
        previous: tuple[torch.Tensor, float] | None = None  # (estimate, its step's h)
        for t, t_next in self.times():
            x0 = estimate(x, t)
            if t_next <= 0.0:
                return x0
            alpha, sigma = self._coefficients(t)
            alpha_next, sigma_next = self._coefficients(t_next)
            h = math.log(alpha_next / sigma_next) - math.log(alpha / sigma)
            direction = x0
            if self.kind == "dpmpp_2m" and previous is not None:
                r = previous[1] / h
                direction = (1 + 0.5 / r) * x0 - (0.5 / r) * previous[0]
            x = (sigma_next / sigma) * x - alpha_next * math.expm1(-h) * direction
            previous = (x0, h)
        return x
