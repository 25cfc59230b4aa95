"""Per-call latency of the MLflow tracker on the embedded SQLite store and on a real server.

Prints one JSON object: median seconds per call of start_run, log_metrics (one batch of
8 metrics), register_model (8 MiB of weights) and load_bundle, per store. With
``--log-model-baseline`` it also times MLflow's own ``mlflow.pytorch.log_model`` on a module of
the same size in the same run (what the tracker avoids: flavour + requirement inference).

    .venv/bin/python benchmarks/tracker_calls.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

WEIGHT_BYTES = 8 * 1024 * 1024


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def measure(settings: Any, repeats: int) -> dict[str, float]:
    import os

    from synthts_mlflow.plugin import make_tracker

    from synthts_core.domain import ModelBundle

    tracker = make_tracker(settings)
    tracker.ping()
    tracker.start_run("warm-up", "warm-up", {})
    bundle = ModelBundle(config={"architecture": "bench", "dataset": "bench"},
                         weights=os.urandom(WEIGHT_BYTES), metrics={"mmd": 0.1})
    times: dict[str, list[float]] = {k: [] for k in
                                     ("start_run", "log_metrics", "register_model", "load_bundle")}
    for r in range(repeats):
        dt, run_id = timed(tracker.start_run, "bench", f"run-{r}",
                           {f"p{i}": i for i in range(12)})
        times["start_run"].append(dt)
        for step in range(5):
            dt, _ = timed(tracker.log_metrics, run_id,
                          {f"m{i}": float(step * i) for i in range(8)}, step)
            times["log_metrics"].append(dt)
        dt, ref = timed(tracker.register_model, "bench-model", bundle, run_id=run_id,
                        aliases=["best"])
        times["register_model"].append(dt)
        dt, loaded = timed(tracker.load_bundle, "bench-model", ref.version)
        assert loaded.weights == bundle.weights
        times["load_bundle"].append(dt)
        tracker.end_run(run_id, "FINISHED")
    return {k: round(statistics.median(v), 4) for k, v in times.items()}


def log_model_baseline(root: Path) -> float:
    """MLflow's pytorch flavour on an 8 MiB module (embedded store), for comparison."""
    import mlflow
    import torch

    mlflow.set_tracking_uri(f"sqlite:///{root / 'baseline.db'}")
    module = torch.nn.Linear(1024, WEIGHT_BYTES // 4 // 1024)
    # artifacts in the temp folder too (the default is ./mlruns in the working directory)
    experiment = mlflow.create_experiment("baseline", artifact_location=(root / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        dt, _ = timed(mlflow.pytorch.log_model, module, name="model",
                      input_example=torch.zeros(1, 1024).numpy())
    return round(dt, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--log-model-baseline", action="store_true")
    args = parser.parse_args()
    from synthts_core.settings import Settings
    from synthts_core.testing.mlflow_server import start_mlflow_server, stop_mlflow_server

    out: dict[str, Any] = {"weights_bytes": WEIGHT_BYTES, "repeats": args.repeats}
    with tempfile.TemporaryDirectory(prefix="synthts-bench-") as tmp:
        root = Path(tmp)
        out["embedded"] = measure(Settings(data_dir=root / "embedded", _env_file=None),
                                  args.repeats)
        proc, uri, _ = start_mlflow_server(root / "server")
        try:
            out["server"] = measure(Settings(data_dir=root / "client", mlflow_uri=uri,
                                             _env_file=None), args.repeats)
        finally:
            stop_mlflow_server(proc)
        if args.log_model_baseline:
            out["baseline_pytorch_log_model_s"] = log_model_baseline(root)
            out["ratio_register_vs_log_model"] = round(
                out["embedded"]["register_model"] / out["baseline_pytorch_log_model_s"], 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
