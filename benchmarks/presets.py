"""Time to generate the seed's training set (harmonics10: 10 classes x 1000 series x 1024
points, sinusoid + Gaussian noise) with ``build_dataset``, against the seed's way: one
timesynth ``TimeSeries(Sinusoidal, GaussianNoise).sample`` per series (timed on
``--seed-series`` series per class and scaled per series).

Run: .venv/bin/python benchmarks/presets.py   (prints one JSON object)
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from synthts_core.plugins import make_plugin_manager
from synthts_core.services.generation import build_dataset, resolve_preset


def seed_way(per_class: int, length: int) -> float:
    import timesynth as ts

    times = np.linspace(0.0, 1.0, length)
    started = time.perf_counter()
    for f in range(1, 11):
        for _ in range(per_class):
            series = ts.TimeSeries(ts.signals.Sinusoidal(amplitude=2.0, frequency=float(f)),
                                   noise_generator=ts.noise.GaussianNoise(std=0.2))
            series.sample(times)
    return time.perf_counter() - started


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed-series", type=int, default=100)
    args = ap.parse_args()
    regs = make_plugin_manager().registries
    spec = resolve_preset(regs, "harmonics10")
    build_dataset(regs, resolve_preset(regs, "harmonics10", count=10))  # warm-up
    runs = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        ds = build_dataset(regs, spec)
        runs.append(time.perf_counter() - started)
    seed_s = seed_way(args.seed_series, 1024) * (1000 / args.seed_series)
    result = {
        "preset": "harmonics10", "shape": list(ds.values.shape),
        "build_dataset_s_best": round(min(runs), 3), "build_dataset_s_median":
        round(float(np.median(runs)), 3), "timesynth_loop_s_estimated": round(seed_s, 2),
        "ratio": round(seed_s / min(runs), 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
