"""Concurrent generation requests for one model version share one forward pass.

Each request is checked and planned on arrival (its labels, its volume against
``SYNTHTS_MAX_GENERATE_VALUES``), then queued per model version. While the inference thread
runs one batch, later requests wait in the queue; when it is free, everything queued runs as
the next batch: one forward pass over the concatenated latents and labels, then the result is
cut back into each request's rows. A lone request therefore waits for nothing, and a busy
server spends one pass per batch instead of one per request.

Reproducibility is kept: every request draws its latents from its own seed exactly as an
unbatched call would (``trainer.generate`` draws ``randn(n, latent_dim)`` from a generator
seeded with ``seed``, or the model's ``seed + 1`` when none is given), so a request gets the
same series whether or not it shared a pass (up to float rounding of a larger matrix product).
A generator that draws noise of its own while sampling (``noise_inputs``) gets each request's
noise drawn as that request alone would draw it (``trainer.sampling_noise``); models whose
trainer exposes no ``latent_dim``, or draws noise it cannot hand over, run one request per
pass, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthts_core.errors import LimitExceededError


@dataclass
class _Pending:
    label_idx: np.ndarray | None
    total: int
    seed: int | None
    future: asyncio.Future[tuple[np.ndarray, np.ndarray | None]] = field(repr=False)


def plan_request(model: Any, n: int | None, labels: Sequence[str] | None,
                 counts: Mapping[str, int] | None, max_values: int) -> tuple[np.ndarray | None,
                                                                             int]:
    """Label index per series (None: unconditional) and the number of series, checked before
    any work: bad labels are a 422 and too many values a 413, for this request alone."""
    label_idx = model.plan(n, labels, counts)
    total = len(label_idx) if label_idx is not None else int(1 if n is None else n)
    volume = total * model.n_channels * model.length
    if volume > max_values:
        raise LimitExceededError("generated values (series x channels x length)", volume,
                                 max_values, "SYNTHTS_MAX_GENERATE_VALUES")
    return label_idx, total


def can_batch(model: Any) -> bool:
    """Whether a request's series can be reproduced inside a shared pass: the trainer exposes
    ``latent_dim`` and the seed its latents come from, and a generator that draws noise of its
    own while sampling (``noise_inputs``) can draw a request's noise ahead
    (``sampling_noise``); otherwise sharing a pass would change a seeded request's series."""
    trainer = getattr(model, "trainer", None)
    config = getattr(trainer, "config", None)
    return (isinstance(getattr(trainer, "latent_dim", None), int)
            and isinstance(getattr(config, "seed", None), int)
            and (not getattr(config, "noise_inputs", False)
                 or callable(getattr(trainer, "sampling_noise", None))))


def latents(model: Any, n: int, seed: int | None) -> np.ndarray:
    """The latents ``trainer.generate(n, seed=seed)`` would draw (see the module docstring)."""
    import torch

    trainer = model.trainer
    rng = torch.Generator().manual_seed(trainer.config.seed + 1 if seed is None else seed)
    return torch.randn(n, trainer.latent_dim, generator=rng).numpy()


def run_batch(model: Any, batch: list[_Pending]) -> list[np.ndarray]:
    """One forward pass for every request of ``batch`` (blocking: runs on the inference
    thread); returns each request's values."""
    total = sum(p.total for p in batch)
    if total == 0:  # every request asked for zero series (counts of 0)
        empty = np.zeros((0, model.n_channels, model.length), np.float32)
        return [empty for _ in batch]
    z = np.concatenate([latents(model, p.total, p.seed) for p in batch])
    noise = None
    if getattr(model.trainer.config, "noise_inputs", False):
        noise = np.concatenate([model.trainer.sampling_noise(p.total, p.seed) for p in batch])
    if model.conditional:
        idx = np.concatenate([p.label_idx for p in batch if p.label_idx is not None])
        values, _ = model.generate(1, labels=idx.tolist(), z=z, noise=noise)
    else:
        values, _ = model.generate(len(z), z=z, noise=noise)
    cuts = np.cumsum([p.total for p in batch])[:-1]
    return np.split(values, cuts)


class GenerationBatcher:
    """Queues per model version and runs each queue's backlog as one pass on ``executor``."""

    def __init__(self, executor: Executor, max_batch_values: int) -> None:
        self._executor = executor
        self._max_batch_values = max(1, int(max_batch_values))
        self._queues: dict[tuple[str, str], list[_Pending]] = {}
        self._draining: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.passes = 0
        self.requests = 0

    async def generate(self, model: Any, label_idx: np.ndarray | None, total: int,
                       seed: int | None) -> tuple[np.ndarray, np.ndarray | None]:
        loop = asyncio.get_running_loop()
        key = (model.ref.name, str(model.ref.version))
        pending = _Pending(label_idx, total, seed, loop.create_future())
        self._queues.setdefault(key, []).append(pending)
        if key not in self._draining:  # the task is kept here so it is not collected
            self._draining[key] = loop.create_task(self._drain(key, model))
        return await pending.future

    def _take(self, key: tuple[str, str], model: Any) -> list[_Pending]:
        """The oldest queued requests, as many as fit ``max_batch_values`` (at least one)."""
        queue = self._queues.get(key, [])
        per_series = max(1, model.n_channels * model.length)
        taken, values = 0, 0
        for p in queue:
            if taken and values + p.total * per_series > self._max_batch_values:
                break
            taken += 1
            values += p.total * per_series
        batch, self._queues[key] = queue[:taken], queue[taken:]
        return batch

    async def _drain(self, key: tuple[str, str], model: Any) -> None:
        """Run the queue of ``key`` batch by batch until it is empty. The loop is
        single-threaded, so nothing can be queued between the last ``_take`` and the end."""
        loop = asyncio.get_running_loop()
        try:
            while batch := self._take(key, model):
                batch = [p for p in batch if not p.future.done()]  # clients that went away
                if not batch:
                    continue
                try:
                    parts = await loop.run_in_executor(self._executor, run_batch, model, batch)
                except Exception as exc:
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(exc)
                    continue
                self.passes += 1
                self.requests += len(batch)
                for p, values in zip(batch, parts, strict=True):
                    if not p.future.done():
                        p.future.set_result((values, p.label_idx))
        finally:
            self._draining.pop(key, None)
            for p in self._queues.pop(key, []):  # only left behind when cancelled
                if not p.future.done():
                    p.future.cancel()
