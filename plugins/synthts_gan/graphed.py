"""A CUDA graph of one training block (all critic and generator updates of ``n_critic``
batches, optimiser steps included), captured once and replayed with static input buffers.

The first ``WARMUP_BLOCKS`` blocks run eagerly on a side stream (what a capture needs), the next
one is captured and every later one replayed. Only on CUDA, only for complete data without DP
(``GanTrainer.use_graphs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from synthts_gan.backbones import set_dropout_rng, set_noise_rng
from synthts_gan.steps import LOSS_NAMES

if TYPE_CHECKING:
    from synthts_gan.trainer import GanTrainer

WARMUP_BLOCKS = 3  # eager steps on a side stream before a CUDA graph capture


class GraphedBlock:
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
