"""The seed's ten harmonic classes (frequency 1..10 cycles over t in [0, 1], amplitude 2, noise
std 0.2, 1000 series x 1024 points each): train the C-GAN from the gan plugin directly, generate
as many series per class, and print ONE JSON object with the per-class feature cosine similarity
(the seed's metric; its C-GAN published 0.978-0.989 per class) and the per-class discriminative
score (mean and std over --repeats), plus the same numbers for two independent real draws as the
floor a perfect generator would reach (feature cosine of two independent real draws).

Usage: python benchmarks/quality_harmonics.py [--epochs N] [--device cpu|cuda] [--quick]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def harmonics(count: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """From the ``harmonics10`` preset through build_dataset; the same formula inline if the
    preset is not installed (a box with torch but without synthts' dependencies)."""
    try:
        from synthts_core.plugins import make_plugin_manager
        from synthts_core.services.generation import build_dataset, resolve_preset

        regs = make_plugin_manager().registries
        ds = build_dataset(regs, resolve_preset(regs, "harmonics10", count=count,
                                                length=length, seed=seed))
        return ds.values, ds.labels, list(ds.meta.label_names)
    except Exception as exc:
        print(f"harmonics10 preset unavailable ({exc}); generating inline", file=sys.stderr)
        rng = np.random.default_rng(seed)
        t = np.linspace(0.0, 1.0, length)
        values = np.concatenate([
            2.0 * np.sin(2 * np.pi * f * t)[None, None, :] + rng.normal(0, 0.2, (count, 1, length))
            for f in range(1, 11)]).astype(np.float32)
        return values, np.repeat(np.arange(10), count), [f"{f}Hz" for f in range(1, 11)]


def _class_scores(job: tuple) -> dict:
    from synthts_metrics.features import FeatureCosineSimilarity
    from synthts_metrics.posthoc import DiscriminativeScore

    label, real, other, seed, iterations, repeats = job
    rng = np.random.default_rng(seed)
    disc = DiscriminativeScore(iterations=iterations, repeats=repeats)
    mean, std = disc.compute(real, other, rng)
    return {"label": label, "feature_cosine": FeatureCosineSimilarity().compute(real, other, rng),
            "discriminative": mean, "discriminative_std": std}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=None,
                    help="training epochs (default 300: ~30 s on an H200, long on a CPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="smoke run: 60 per class, length 256")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--max-train-s", type=float, default=0.0,
                    help="stop training after this many seconds (0 = run every epoch)")
    args = ap.parse_args(argv)
    count, length = (60, 256) if args.quick else (1000, 1024)
    epochs = args.epochs or (3 if args.quick else 300)
    iterations = 200 if args.quick else 1000

    from synthts_gan.plugin import builtin_architectures

    real, labels, names = harmonics(count, length, args.seed)
    lo, hi = float(real.min()), float(real.max())
    offset, scale = (hi + lo) / 2, (hi - lo) / 2
    config = {"architecture": "cgan", "length": length, "n_channels": 1, "n_classes": 10,
              "seed": args.seed, "augment": False}
    trainer = {a.name: a for a in builtin_architectures()}["cgan"].build(config, args.device)
    started = time.perf_counter()
    done = 0
    for epoch in range(1, epochs + 1):
        losses = trainer.train_epoch((real - offset) / scale, labels)
        done = epoch
        if args.max_train_s and time.perf_counter() - started > args.max_train_s:
            break
        if epoch % max(1, epochs // 5) == 0:
            print(f"epoch {epoch} {time.perf_counter() - started:.1f}s {losses}", file=sys.stderr)
    train_s = time.perf_counter() - started
    synthetic = np.asarray(trainer.generate(len(labels), labels=labels, seed=args.seed + 1))
    synthetic = synthetic * scale + offset
    fresh, _, _ = harmonics(count, length, args.seed + 7)  # a second real draw: the floor

    from synthts_metrics.features import FeatureCosineSimilarity

    floor = {name: FeatureCosineSimilarity().compute(real[labels == k], fresh[labels == k],
                                                     np.random.default_rng(100 + k))
             for k, name in enumerate(names)}
    jobs = [(name, real[labels == k], synthetic[labels == k], k, iterations, args.repeats)
            for k, name in enumerate(names)]
    workers = args.workers or len(os.sched_getaffinity(0))
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs))),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        scores = list(pool.map(_class_scores, jobs))
    gan = scores
    per_class = {g["label"]: {k: round(v, 4) for k, v in g.items() if k != "label"} for g in gan}
    out = {
        "feature_cosine_min": min(g["feature_cosine"] for g in gan),
        "feature_cosine_mean": float(np.mean([g["feature_cosine"] for g in gan])),
        "discriminative_mean": float(np.mean([g["discriminative"] for g in gan])),
        "per_class": per_class,
        "real_vs_real_feature_cosine": {k: round(v, 4) for k, v in floor.items()},
        "seed_published_feature_cosine": [0.978, 0.989],
        "train_s": round(train_s, 2), "epochs": done, "device": str(trainer.device),
        "series_per_class": count, "length": length, "repeats": args.repeats,
        "discriminative_iterations": iterations,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
