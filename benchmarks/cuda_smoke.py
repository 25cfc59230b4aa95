"""CUDA smoke check of the GAN trainers (graphs, bf16, conv, checkpoint reload); torch+numpy.

    python benchmarks/cuda_smoke.py        # prints one JSON line per case, exits 1 on a failure
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from synthts_gan.config import GanConfig
from synthts_gan.trainer import GanTrainer


def main() -> int:
    rng = np.random.default_rng(0)
    n, c, length = 2048, 2, 256
    labels = np.arange(n) % 4
    t = np.arange(length) / length
    values = np.sin(2 * np.pi * (labels[:, None, None] + 1) * t
                    + rng.uniform(0, 6, (n, c, 1))).astype(np.float32)
    ok = True
    for arch in ("wgan_gp", "cwgan_gp", "cgan"):
        for backbone in ("mlp", "conv"):
            for precision in ("fp32", "bf16"):
                cfg = GanConfig(architecture=arch, backbone=backbone, precision=precision,
                                length=length, n_channels=c, n_classes=4, batch_size=64)
                tr = GanTrainer(cfg, "cuda")
                feed = None if arch == "wgan_gp" else labels
                start = time.perf_counter()
                hist = [tr.train_epoch(values, feed) for _ in range(3)]
                ck = tr.checkpoint()
                again = GanTrainer(cfg, "cuda")
                again.load_checkpoint(ck)
                hist.append(again.train_epoch(values, feed))
                lab = None if arch == "wgan_gp" else np.arange(8) % 4
                out = again.generate(8, labels=lab, seed=0)
                good = all(np.isfinite(v) for h in hist for v in h.values()) and \
                    out.shape == (8, c, length) and np.isfinite(out).all() and \
                    tr._graph is not None and tr._graph.graph is not None
                ok &= bool(good)
                print(json.dumps({"arch": arch, "backbone": backbone, "precision": precision,
                                  "ok": bool(good), "secs": round(time.perf_counter() - start, 2),
                                  "last": {k: round(v, 4) for k, v in hist[-1].items()}}),
                      flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
