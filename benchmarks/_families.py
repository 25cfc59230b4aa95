"""The model families the quality benchmarks train, built from their plugins directly (no
Ray, no storage): ``build(config, device)`` picks the architecture ``config`` names, GAN or
diffusion. Importing the plugin modules, not the app, keeps the benchmarks runnable on a box
with torch and numpy alone."""

from __future__ import annotations

import time
from typing import Any


def architectures() -> dict[str, Any]:
    from synthts_diffusion.plugin import DiffusionArchitecture
    from synthts_gan.plugin import builtin_architectures

    return {**{a.name: a for a in builtin_architectures()},
            "diffusion": DiffusionArchitecture()}


def build(config: dict[str, Any], device: str) -> Any:
    return architectures()[config["architecture"]].build(config, device)


def timed_generate(model: Any, n: int, labels: Any, seed: int, repeats: int = 2
                   ) -> tuple[Any, float]:
    """``model.generate`` of ``n`` series and its best wall time over ``repeats`` calls (the
    first also warms up)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        out = model.generate(n, labels=labels, seed=seed)
        best = min(best, time.perf_counter() - started)
    return out, best
