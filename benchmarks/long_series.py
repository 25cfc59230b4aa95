"""Series longer than the training window (issue #25, part 2): train the diffusion family on
256-point windows cut at random places from long series of the seed's harmonics (as windows of a
long recording would be: a model that only ever saw windows starting at phase 0 has nothing to
continue a window from; from its plugin directly: no Ray, no storage), paint series
``--factor`` times as long (``generate(..., length=N)``: each next window overlaps the last by
half and is sampled with that half held, with reconstruction guidance), and print ONE JSON
object:

  detector_joins      per class: the strong detector (held-out accuracy, 0.5 = can't tell) on
                      synthetic windows that straddle a join (centred on where a new window's
                      points start) against real windows at the same positions of real series
                      as long (the same spec, drawn at the long length on the same time grid)
  detector_window     per class: the same detector on single synthetic windows against real
                      windows from random places (what the model scores without painting)
  along               per class: the mean and standard deviation of each window-length stretch
                      along the series, synthetic beside real (drift shows as a trend)
  generate_s          wall time of the long generation; train_s, epochs, config

Goal (#25): the joins' detector <= 0.60 per class, the stretches' mean and spread within the
real data's range.

Usage: python benchmarks/long_series.py [--factor 8] [--classes 4] [--epochs 200] [--n 60]
       [--set PARAM=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

WINDOW = 256
# the main job's diffusion trial (plugins/synthts_diffusion/plugin.py MAIN_JOB_SPACE)
CONFIG = {"architecture": "diffusion", "batch_size": 64, "lr": 3e-3}


def harmonics(n: int, length: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seed's harmonics (f cycles per 256 points, amplitude 2, noise 0.2) of ``length``
    points on the 256-point window's time grid, so a long real series is the windows' signal
    continued; the first ``classes`` classes, ``n`` series each."""
    import msgspec

    from synthts_core.plugins import make_plugin_manager
    from synthts_core.services.generation import build_dataset, resolve_preset

    regs = make_plugin_manager().registries
    spec = resolve_preset(regs, "harmonics10", count=n, length=WINDOW, seed=seed)
    spec = msgspec.structs.replace(spec, length=length, classes=spec.classes[:classes])
    data = build_dataset(regs, spec)
    return data.values.astype(np.float32), np.asarray(data.labels)


def crops(n: int, classes: int, seed: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """One 256-point window per long series, from a random place: the training windows."""
    long, labels = harmonics(n, factor * WINDOW, classes, seed)
    starts = np.random.default_rng(seed).integers(0, long.shape[-1] - WINDOW + 1, len(long))
    return np.stack([x[:, s:s + WINDOW] for x, s in zip(long, starts, strict=True)]), labels


def coerce(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> None:
    import torch
    from _families import build
    from synthts_diffusion.model import windows_for
    from synthts_metrics.detector import Detector

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--factor", type=int, default=8, help="series length / window length")
    ap.add_argument("--classes", type=int, default=4, help="harmonic classes (1..10 Hz)")
    ap.add_argument("--per-class", type=int, default=200, help="training series per class")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--n", type=int, default=60, help="long series generated per class")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    values, labels = crops(args.per_class, args.classes, args.seed, args.factor)
    lo, hi = values.min(), values.max()
    scale = lambda x: (x - (hi + lo) / 2) / ((hi - lo) / 2)  # noqa: E731 - the plugin's [-1, 1]
    unscale = lambda x: x * ((hi - lo) / 2) + (hi + lo) / 2  # noqa: E731
    config = {**CONFIG, **dict(kv.split("=", 1) for kv in args.set), "length": WINDOW,
              "n_channels": 1, "n_classes": args.classes, "seed": args.seed,
              "total_epochs": args.epochs}
    config = {k: coerce(v) if isinstance(v, str) and k != "architecture" else v
              for k, v in config.items()}
    model = build(config, "cpu")
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        losses = model.train_epoch(scale(values), labels)
        if epoch % max(1, args.epochs // 5) == 0:
            print(f"epoch {epoch}/{args.epochs} {time.perf_counter() - started:.0f}s "
                  f"loss {losses['loss']:.4f}", file=sys.stderr, flush=True)
    train_s = time.perf_counter() - started

    length = args.factor * WINDOW
    count, stride = windows_for(length, WINDOW)
    joins = [WINDOW + stride * (j - 1) for j in range(1, count)]
    joins = [j for j in joins if j + WINDOW // 2 <= length]
    real_long, real_labels = harmonics(args.n, length, args.classes, args.seed + 1)
    out: dict = {"window": WINDOW, "length": length, "windows_painted": count,
                 "joins": joins, "epochs": args.epochs, "train_s": round(train_s, 1),
                 "config": {k: v for k, v in config.items() if k not in ("length",)},
                 "detector_joins": {}, "detector_window": {}, "along": {}}
    gen_s = 0.0
    for k in range(args.classes):
        label = f"{k + 1}Hz"
        started = time.perf_counter()
        synthetic = unscale(model.generate(args.n, labels=np.full(args.n, k),
                                           seed=args.seed + 100 + k, length=length))
        gen_s += time.perf_counter() - started
        real = real_long[real_labels == k]

        def cut(x: np.ndarray) -> np.ndarray:
            return np.concatenate([x[..., j - WINDOW // 2:j + WINDOW // 2] for j in joins])

        rng = np.random.default_rng(k)
        out["detector_joins"][label] = round(float(Detector().compute(
            cut(real), cut(synthetic), rng)), 3)
        single = unscale(model.generate(len(real), labels=np.full(len(real), k),
                                        seed=args.seed + 200 + k))
        starts = rng.integers(0, length - WINDOW + 1, len(real))
        windows = np.stack([x[:, s:s + WINDOW] for x, s in zip(real, starts, strict=True)])
        out["detector_window"][label] = round(float(Detector().compute(
            windows, single, rng)), 3)
        stretches = length // WINDOW

        def along(x: np.ndarray, stretches: int = stretches) -> dict[str, list[float]]:
            parts = x[..., :stretches * WINDOW].reshape(len(x), -1, stretches, WINDOW)
            return {"mean": np.round(parts.mean(axis=(0, 1, 3)), 3).tolist(),
                    "std": np.round(parts.std(axis=(0, 1, 3)), 3).tolist()}

        out["along"][label] = {"synthetic": along(synthetic), "real": along(real)}
    out["generate_s"] = round(gen_s, 1)
    out["generated"] = f"{args.classes * args.n} series x {length} points"
    out["goal"] = {"detector_joins": "<= 0.60 per class",
                   "along": "synthetic mean and std per stretch within the real range"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
