"""Concurrent generation requests for one model version share one forward pass.

Each request is checked and planned on arrival (its labels, its volume against
``SYNTHTS_MAX_GENERATE_VALUES``), then queued per model version. While the inference thread
runs one batch, later requests wait in the queue; when it is free, everything queued runs as
the next batch: one forward pass over the concatenated latents and labels, then the result is
cut back into each request's rows. A lone request therefore waits for nothing, and a busy
server spends one pass per batch instead of one per request.

Requests for another length than the trained one (a family that paints longer series) queue
apart, one queue per version and length.

Reproducibility is kept: every request's latents are drawn from its own seed exactly as an
unbatched call would draw them (``trainer.sampling_latents``), so a request gets the same
series whether or not it shared a pass (up to float rounding of a larger matrix product). A
generator that draws noise of its own while sampling gets each request's noise drawn as that
request alone would draw it (``trainer.sampling_noise``). Models that cannot draw ahead (not a
``BatchableModel``) run one request per pass.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class _Pending:
    label_idx: np.ndarray | None
    total: int
    seed: int | None
    length: int
    future: asyncio.Future[tuple[np.ndarray, np.ndarray | None]] = field(repr=False)


def can_batch(model: Any) -> bool:
    """Whether a request's series can be reproduced inside a shared pass: the model's trainer
    can draw a request's latents (and any noise of its own) ahead, as ``generate`` would
    (``BatchableModel``, decided when the model was loaded); otherwise sharing a pass would
    change a seeded request's series."""
    return bool(getattr(model, "batchable", False))


def run_batch(model: Any, batch: list[_Pending]) -> list[np.ndarray]:
    """One forward pass for every request of ``batch`` (blocking: runs on the inference
    thread); returns each request's values."""
    total = sum(p.total for p in batch)
    length = batch[0].length  # one queue per length
    if total == 0:  # every request asked for zero series (counts of 0)
        empty = np.zeros((0, model.n_channels, length), np.float32)
        return [empty for _ in batch]
    trainer = model.trainer
    longer = {} if length == model.length else {"length": length}
    z = np.concatenate([trainer.sampling_latents(p.total, p.seed, **longer) for p in batch])
    first = trainer.sampling_noise(batch[0].total, batch[0].seed)  # None: draws no noise
    noise = None if first is None else np.concatenate(
        [first, *(trainer.sampling_noise(p.total, p.seed) for p in batch[1:])])
    if model.conditional:
        idx = np.concatenate([p.label_idx for p in batch if p.label_idx is not None])
        values, _ = model.generate(1, labels=idx.tolist(), z=z, noise=noise, length=length)
    else:
        values, _ = model.generate(len(z), z=z, noise=noise, length=length)
    cuts = np.cumsum([p.total for p in batch])[:-1]
    return np.split(values, cuts)


class GenerationBatcher:
    """Queues per model version and runs each queue's backlog as one pass on ``executor``."""

    def __init__(self, executor: Executor, max_batch_values: int) -> None:
        self._executor = executor
        self._max_batch_values = max(1, int(max_batch_values))
        self._queues: dict[tuple[str, str, int], list[_Pending]] = {}
        self._draining: dict[tuple[str, str, int], asyncio.Task[None]] = {}
        self.passes = 0
        self.requests = 0

    async def generate(self, model: Any, label_idx: np.ndarray | None, total: int,
                       seed: int | None, length: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray | None]:
        loop = asyncio.get_running_loop()
        length = model.length if length is None else int(length)
        key = (model.ref.name, str(model.ref.version), length)
        pending = _Pending(label_idx, total, seed, length, loop.create_future())
        self._queues.setdefault(key, []).append(pending)
        if key not in self._draining:  # the task is kept here so it is not collected
            self._draining[key] = loop.create_task(self._drain(key, model))
        return await pending.future

    def _take(self, key: tuple[str, str, int], model: Any) -> list[_Pending]:
        """The oldest queued requests, as many as fit ``max_batch_values`` (at least one)."""
        queue = self._queues.get(key, [])
        per_series = max(1, model.n_channels * key[2])
        taken, values = 0, 0
        for p in queue:
            if taken and values + p.total * per_series > self._max_batch_values:
                break
            taken += 1
            values += p.total * per_series
        batch, self._queues[key] = queue[:taken], queue[taken:]
        return batch

    async def _drain(self, key: tuple[str, str, int], model: Any) -> None:
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
