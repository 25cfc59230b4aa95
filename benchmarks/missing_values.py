"""Learning from series with missing points (issue #24, part 3): train one model family on the
seed's harmonics twice, from its plugin directly (no Ray, no storage), once on the complete
series and once on the same series with ``--missing`` of their points removed at random (NaN,
which the family must ignore: masked losses), with the same seed and the same epochs. Then score
both against complete real series neither saw (a fresh draw of the same spec) with the strong
detector, per class, and print ONE JSON object:

  detector_complete   per class: held-out accuracy of the detector (0.5 = can't tell) for the
                      model trained on complete series
  detector_missing    per class: the same for the model trained with points missing
  worst_complete, worst_missing, gap
                      the worst class of each and ``worst_missing - worst_complete``
  missing_share       the share of training points removed; train_s per model; config

Goal (#24): gap <= 0.05.

Each family trains as ``quality_harmonics.py`` trains it (``FAMILIES``: the GAN is the main
job's conditional WGAN-GP, diffusion the search a job that names no architectures gives it).

Usage: python benchmarks/missing_values.py [--family diffusion|gan] [--missing 0.2]
       [--classes 4] [--per-class 200] [--epochs 150] [--seed 0] [--set PARAM=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from long_series import WINDOW, coerce, harmonics
from quality_harmonics import FAMILIES


def scaled(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``values`` mapped to [-1, 1] by the observed points' range (as the core's ``minmax``
    training scaling does): (scaled, offset, half-range)."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    offset, half = (hi + lo) / 2, (hi - lo) / 2
    return (values - offset) / half, offset, half


def train(config: dict, values: np.ndarray, labels: np.ndarray, epochs: int, what: str
          ) -> tuple[object, float, float, float]:
    from _families import build

    model = build(config, "cpu")
    x, offset, half = scaled(values)
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        losses = model.train_epoch(x, labels)
        if not all(np.isfinite(v) for v in losses.values()):
            raise SystemExit(f"{what}: epoch {epoch} gave a non-finite loss {losses}")
        if epoch % max(1, epochs // 5) == 0:
            print(f"{what} epoch {epoch}/{epochs} {time.perf_counter() - started:.0f}s "
                  f"{ {k: round(float(v), 4) for k, v in losses.items()} }",
                  file=sys.stderr, flush=True)
    return model, offset, half, time.perf_counter() - started


def main() -> None:
    import torch
    from synthts_metrics.detector import Detector

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", choices=sorted(FAMILIES), default="diffusion")
    ap.add_argument("--missing", type=float, default=0.2, help="share of points removed")
    ap.add_argument("--classes", type=int, default=4, help="harmonic classes (1..10 Hz)")
    ap.add_argument("--per-class", type=int, default=200, help="training series per class")
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--n", type=int, default=200, help="series per class scored")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    values, labels = harmonics(args.per_class, WINDOW, args.classes, args.seed)
    holed = values.copy()
    holed[np.random.default_rng(args.seed).random(values.shape) < args.missing] = np.nan
    config = {**FAMILIES[args.family],
              **{k: coerce(v) for k, v in (kv.split("=", 1) for kv in args.set)},
              "length": WINDOW, "n_channels": 1, "n_classes": args.classes,
              "seed": args.seed, "total_epochs": args.epochs}
    real, real_labels = harmonics(args.n, WINDOW, args.classes, args.seed + 1)
    out: dict = {"family": args.family, "epochs": args.epochs,
                 "missing_share": round(float(np.isnan(holed).mean()), 4),
                 "trained_on": f"{len(values)} harmonics series ({args.per_class} a class, "
                               f"seed {args.seed})",
                 "scored_against": f"{len(real)} complete harmonics series of a fresh draw "
                                   f"(seed {args.seed + 1})",
                 "config": {k: v for k, v in config.items() if k != "length"}}
    for what, data in (("complete", values), ("missing", holed)):
        model, offset, half, train_s = train(config, data, labels, args.epochs, what)
        scores = {}
        for k in range(args.classes):
            mine = real[real_labels == k]
            fake = model.generate(len(mine), labels=np.full(len(mine), k),
                                  seed=args.seed + 100 + k) * half + offset
            scores[f"{k + 1}Hz"] = round(float(Detector().compute(
                mine, fake, np.random.default_rng([args.seed, k]))), 3)
        out[f"detector_{what}"] = scores
        out[f"worst_{what}"] = max(scores.values())
        out[f"train_s_{what}"] = round(train_s, 1)
    out["gap"] = round(out["worst_missing"] - out["worst_complete"], 3)
    out["goal"] = {"gap": "<= 0.05"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
