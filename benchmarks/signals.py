"""Series per second of every signal and noise: the vectorised engine against timesynth 0.2.4.

Both engines run the same validated parameters on the same grid (1000 series x 500 points,
times 0..499) in one process, side by side. timesynth is timed on fewer series where it takes
minutes (its Gaussian processes take about a second per series), and rates are per series.
BLAS is limited to one thread for both engines (``--blas-threads``): on a shared machine a
multi-threaded BLAS makes timesynth's many tiny SVDs far slower, which would flatter the ratio.

Run: .venv/bin/python benchmarks/signals.py [--series 1000] [--length 500] [--quick]
Prints a JSON list of {signal, vectorised_per_s, timesynth_per_s, ratio, ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
from synthts_timesynth.plugin import builtin_generators

from synthts_core.schema import validate_params

# (label, generator, params, series timed with timesynth at full size)
CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("sinusoidal", "sinusoidal", {"amplitude": 2.0, "frequency": 0.01}, 1000),
    ("pseudo_periodic", "pseudo_periodic", {}, 1000),
    ("gaussian_noise", "gaussian_noise", {"std": 0.2}, 1000),
    ("autoregressive", "autoregressive", {"ar_param": [0.5, 0.2]}, 100),
    ("car", "car", {"ar_param": 0.5}, 100),
    ("narma", "narma", {"order": 5, "saturation": "none"}, 100),
    ("red_noise", "red_noise", {"tau": 2.0}, 100),
    ("mackey_glass", "mackey_glass", {}, 5),
    *[(f"gaussian_process[{k}]", "gaussian_process",
       {"kernel": k, "lengthscale": 10.0 if k != "Periodic" else 1.0, "p": 50.0}, 3)
      for k in ("Constant", "Exponential", "SE", "RQ", "Linear", "Matern", "Periodic")],
]


def _rate(fn: Any, n: int, repeats: int) -> float:
    """Series per second, best of ``repeats`` runs."""
    best = float("inf")
    for r in range(repeats):
        started = time.perf_counter()
        fn(n, np.random.default_rng(r))
        best = min(best, time.perf_counter() - started)
    return n / best


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--length", type=int, default=500)
    ap.add_argument("--quick", action="store_true", help="time timesynth on 1-10 series only")
    ap.add_argument("--blas-threads", type=int, default=1)
    ap.add_argument("--only", help="comma-separated labels to run")
    args = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's stack here
        print("threadpoolctl missing: BLAS threads not limited", file=sys.stderr)
    gens = {g.name: g for g in builtin_generators()}
    times = np.arange(args.length, dtype=np.float64)
    only = set(args.only.split(",")) if args.only else None
    # warm up: the first timesynth call imports it (and jitcdde, symengine)
    gens["sinusoidal"].engines["timesynth"].generate(1, times, validate_params(
        gens["sinusoidal"], {}), np.random.default_rng(0))
    results = []
    for label, name, raw, ts_series in CASES:
        if only and label not in only:
            continue
        gen = gens[name]
        params = validate_params(gen, raw)
        engine = gen.engines["timesynth"]
        engine.check(params)
        vec = _rate(lambda n, rng, g=gen, p=params: g.generate(n, times, p, rng), args.series, 3)
        ts_n = min(args.series, max(1, ts_series // 10) if args.quick else ts_series)
        if name == "mackey_glass":
            engine.generate(1, times, params, np.random.default_rng(0))  # jitcdde warm-up
        ts = _rate(lambda n, rng, e=engine, p=params: e.generate(n, times, p, rng), ts_n, 1)
        row = {"signal": label, "vectorised_per_s": round(vec, 1), "timesynth_per_s": round(ts, 3),
               "ratio": round(vec / ts, 1), "vectorised_series": args.series,
               "timesynth_series": ts_n, "length": args.length}
        print(json.dumps(row), file=sys.stderr, flush=True)
        results.append(row)
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
