"""Differentially private training against non-private, on the seed's ten harmonic classes:
train the conditional WGAN-GP three ways in one run, score each the same way and print ONE JSON
object.

  non_private          the main job's configuration (quality_harmonics.py's BEST)
  non_private_same     PRIVATE_BASE without DP: what the private model is a private copy of
  private              PRIVATE_BASE with dp_epsilon (default 10) and dp_delta = 1/N

PRIVATE_BASE is BEST changed where DP-SGD needs it: no moment loss and no mean correction (DP
refuses both: they feed real statistics outside the private critic); a small critic (conv,
width 8, the label as input channels: about 4k parameters against the MLP's 150k, and the
noise is added to every one); Poisson batches of half the set (the noise on the averaged
gradient falls as 1/batch); one critic step per generator step (each critic step spends
budget, a generator step none); and gp_weight 0.1 (measured at epsilon 10, 60 epochs, TSTR:
0.2 of chance 0.1 at gp_weight 10, 0.89 at 1, 1.0 at 0.1; the same critic without DP fails at
10 too). The moment loss and mean correction are what bring the main job's configuration's
worst class below 1.0 at 60 epochs (without them, non-private: 1.0).

Per model: the worst class's detector (held-out accuracy of the classifier two-sample test;
0.5 = can't tell, the verdict passes a class at <= 0.70), train-on-synthetic / train-on-real
(TSTR / TRTR, tested on a fresh real draw the models never saw), the epsilon spent as the
accountant states it, and the CPU time of training (process time, all threads). Then the
private model's TSTR over each non-private one's (goal >= 0.9) and its detector beside theirs,
and the CPU cost of private training over non-private.

Usage: python benchmarks/privacy_harmonics.py [--epsilon 10] [--epochs 60] [--full]
       [--private-config JSON]
Default: 100 series per class x 128 points, 60 epochs each (about 3-5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from quality_harmonics import BEST, harmonics

PRIVATE_BASE = {**BEST, "moment_weight": 0.0, "mean_correction": False, "backbone": "conv",
                "conv_width": 8, "conditioning": "concat", "batch_size": 500, "n_critic": 1,
                "lr": 0.002, "gp_weight": 0.1}


def train(config: dict, real: np.ndarray, labels: np.ndarray, epochs: int, seed: int):
    """Train ``epochs`` epochs (a DP model plans its noise for exactly these), returning the
    trainer, the scaling and the training CPU seconds."""
    from _families import build

    lo, hi = float(real.min()), float(real.max())
    offset, scale = (hi + lo) / 2, (hi - lo) / 2
    trainer = build({**config, "length": real.shape[2], "n_channels": 1, "n_classes": 10,
                     "seed": seed, "total_epochs": epochs}, "cpu")
    scaled = (real - offset) / scale
    started = time.process_time()
    for _ in range(epochs):
        trainer.train_epoch(scaled, labels)
    return trainer, (offset, scale), time.process_time() - started


def score(real: np.ndarray, labels: np.ndarray, fresh: np.ndarray, fresh_labels: np.ndarray,
          synthetic: np.ndarray, seed: int) -> dict:
    from synthts_metrics.detector import Detector, TrainSyntheticTestReal

    detector = Detector()
    per_class = [detector.compute(real[labels == k], synthetic[labels == k],
                                  np.random.default_rng([seed, k])) for k in range(10)]
    tstr = TrainSyntheticTestReal().compute(real, synthetic, np.random.default_rng(seed),
                                            real_labels=labels, synthetic_labels=labels,
                                            holdout=fresh, holdout_labels=fresh_labels)
    return {"detector_worst": round(max(float(d) for d in per_class), 4),
            "detector_inconclusive": sum(bool(d.inconclusive) for d in per_class),
            "detector_per_class": [round(float(d), 4) for d in per_class],
            "tstr": round(float(tstr), 4), "tstr_detail": tstr.extra,
            "tstr_inconclusive": tstr.inconclusive or None}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epsilon", type=float, default=10.0, help="the private model's target")
    ap.add_argument("--delta", type=float, default=None, help="default 1/N")
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--epochs", type=int, default=60, help="epochs of every model")
    ap.add_argument("--full", action="store_true",
                    help="200 series per class x 256 points (the main job's size)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for training")
    ap.add_argument("--private-config", default="{}",
                    help="JSON overrides of PRIVATE_BASE (both the private model and its "
                         "non-private copy)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    count, length = (200, 256) if args.full else (100, 128)
    real, labels, _ = harmonics(count, length, args.seed)
    fresh, fresh_labels, _ = harmonics(count, length, args.seed + 7)
    same = {**PRIVATE_BASE, **json.loads(args.private_config)}
    same["batch_size"] = min(int(same["batch_size"]), len(real) // 2)
    configs = {"non_private": BEST, "non_private_same": same,
               "private": {**same, "dp_epsilon": args.epsilon, "dp_delta": args.delta,
                           "dp_max_grad_norm": args.max_grad_norm}}
    models = {}
    for name, config in configs.items():
        trainer, (offset, scale), cpu_s = train(config, real, labels, args.epochs, args.seed)
        synthetic = trainer.generate(len(labels), labels=labels, seed=args.seed + 1)
        result = {"train_cpu_s": round(cpu_s, 1), **score(
            real, labels, fresh, fresh_labels, synthetic * scale + offset, args.seed)}
        record = getattr(trainer, "privacy_record", lambda n: None)(len(real))
        if record is not None:
            result["privacy"] = {k: getattr(record, k) for k in (
                "epsilon", "target_epsilon", "delta", "noise_multiplier", "sample_rate",
                "steps", "planned_steps", "max_grad_norm", "accountant", "mechanism")}
        models[name] = result
    p = models["private"]
    out = {
        "models": models,
        "private_vs": {name: {
            "tstr_ratio": round(p["tstr"] / m["tstr"], 4) if m["tstr"] else None,
            "detector_worst": [p["detector_worst"], m["detector_worst"]],
            "train_cpu_ratio": round(p["train_cpu_s"] / max(m["train_cpu_s"], 1e-9), 2)}
            for name, m in models.items() if name != "private"},
        "goal": {"tstr_ratio": ">= 0.9 (private TSTR over non-private)",
                 "epsilon": f"<= {args.epsilon:g} at delta = 1/N"},
        "series_per_class": count, "length": length, "n_series": len(real),
        "epochs": args.epochs, "torch_threads": args.threads, "seed": args.seed,
        "private_base": same,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
