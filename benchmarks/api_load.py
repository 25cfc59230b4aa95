"""Load test of the generation endpoint on a live server: batched path vs single-request path.

Starts ``uvicorn`` in a subprocess on a free loopback port over a temp data folder, registers a
seed-sized conditional WGAN-GP (the seed's fully connected networks, latent 100, length 1024,
10 classes) through the real tracker with freshly initialised weights (no training: the cost
of a forward pass does not depend on what the weights learned), then for each path:

- ``cold_ms``: the first generation request to that version (loads it into the model cache);
- warm: ``--clients`` concurrent httpx clients for ``--seconds`` each asking for 100 series x
  1024 (10 per label), as float32 ``.npy`` by default.

The two paths, measured one after the other in the same run on fresh servers:

- ``batched`` (the default server): concurrent requests for one model version share one forward
  pass, and JSON is written by NumPy without a Python float per value;
- ``single`` (``SYNTHTS_GENERATE_BATCHING=false``): one forward pass per request and JSON
  through Python lists, the path before batching.

Prints one JSON object per path (``rps``, ``p50_ms``, ``p99_ms``, ``cold_ms``, ...) and a
side-by-side summary. Targets on a 2-core machine: ``.npy`` at 8 clients >= 150 req/s with
p99 <= 60 ms; JSON at 4 clients >= 100 req/s.

    python benchmarks/api_load.py [--clients 8] [--seconds 10] [--format npy|json]
                                  [--paths batched,single]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

MODEL = "seed-wgan"
LABELS = [f"{f}Hz" for f in range(1, 11)]
LENGTH = 1024


def register_model(data_dir: Path) -> str:
    """A seed-sized conditional WGAN-GP with fresh weights, registered through the tracker."""
    from synthts_core.domain import ModelBundle
    from synthts_core.runtime import Runtime
    from synthts_core.settings import Settings

    with Runtime(Settings(data_dir=data_dir, _env_file=None)) as rt:
        arch = rt.registries.architectures.get("cwgan_gp")
        config = {**arch.space.defaults(), "backbone": "mlp", "latent_dim": 100,
                  "architecture": "cwgan_gp", "length": LENGTH, "n_channels": 1,
                  "n_classes": len(LABELS), "label_names": LABELS, "seed": 0,
                  "normalisation": {"method": "minmax", "offset": [0.0], "scale": [2.2]},
                  "dataset": {"name": "harmonics10", "checksum": ""}}
        trainer = arch.build(config, "cpu")
        ref = rt.tracker.register_model(MODEL, ModelBundle(config, trainer.weights(), {}))
        return ref.version


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, port: int, batching: bool = True) -> subprocess.Popen:
    env = {**os.environ, "SYNTHTS_DATA_DIR": str(data_dir), "SYNTHTS_DEVICE": "cpu",
           "SYNTHTS_GENERATE_BATCHING": "true" if batching else "false"}
    env.pop("SYNTHTS_API_TOKEN", None)
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "synthts_core.api.app:create_app",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
           "--no-access-log"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)


def wait_ready(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not become ready in {timeout:.0f} s")


async def load(url: str, version: str, clients: int, seconds: float, fmt: str,
               server_cpu: Callable[[], float | None] = lambda: None) -> dict:
    path = f"/api/v1/models/{MODEL}/versions/{version}/generate"
    body = {"n": 10, "seed": 1}  # 10 per label x 10 labels = 100 series x 1024
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30,
                                 headers={"Accept-Encoding": "identity"}) as client:
        start = time.perf_counter()
        first = await client.post(path, json=body, params={"format": fmt})
        cold_ms = (time.perf_counter() - start) * 1000
        first.raise_for_status()
        check(first, fmt)
        for _ in range(5):  # warm the connections
            (await client.post(path, json=body, params={"format": fmt})).raise_for_status()

        latencies: list[float] = []
        errors = 0
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                r = await client.post(path, json=body, params={"format": fmt})
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += r.status_code != 200

        cpu_before = server_cpu()
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
        cpu_after = server_cpu()
    lat = np.asarray(latencies)
    cpu_ms = (None if cpu_before is None or cpu_after is None
              else round((cpu_after - cpu_before) * 1000 / max(1, len(lat)), 2))
    return {"rps": round(len(lat) / elapsed, 1), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1), "cold_ms": round(cold_ms, 1),
            "server_cpu_ms_per_request": cpu_ms, "load_average": round(os.getloadavg()[0], 2),
            "requests": len(lat), "errors": errors, "clients": clients,
            "seconds": round(elapsed, 1), "format": fmt, "series": 100, "length": LENGTH,
            "weights": "freshly initialised cwgan_gp (seed mlp networks), not trained"}


def check(response: httpx.Response, fmt: str) -> None:
    if fmt == "npy":
        shape = np.load(io.BytesIO(response.content), allow_pickle=False).shape
    else:
        shape = tuple(response.json()["shape"])
    assert shape == (100, 1, LENGTH), shape


PATHS = {"batched": True, "single": False}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_path(data_dir: Path, version: str, path: str, args: argparse.Namespace) -> dict:
    """One server, one load; also the server's CPU time per request, which a machine shared
    with other work changes far less than the request rate."""
    port = free_port()
    server = start_server(data_dir, port, batching=PATHS[path])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        result = asyncio.run(load(url, version, args.clients, args.seconds, args.format,
                                  lambda: cpu_seconds(server.pid)))
    finally:
        server.terminate()
        server.wait(30)
    return {"path": path, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--format", choices=("npy", "json"), default="npy")
    parser.add_argument("--paths", default="batched,single",
                        help="comma-separated: batched (new) and/or single (before batching)")
    args = parser.parse_args()
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = sorted(set(paths) - set(PATHS))
    if unknown:
        parser.error(f"unknown path(s) {unknown}; choose from {sorted(PATHS)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="synthts-api-load-") as tmp:
        data_dir = Path(tmp)
        version = register_model(data_dir)
        for path in paths:
            results.append(run_path(data_dir, version, path, args))
            print(json.dumps(results[-1]), flush=True)
    print(f"\n{args.format} at {args.clients} clients for {args.seconds:g} s each "
          f"({os.cpu_count()} CPUs):")
    print(f"{'path':<9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'cold ms':>9}{'errors':>8}"
          f"{'server CPU ms/req':>19}{'load avg':>10}")
    for r in results:
        print(f"{r['path']:<9}{r['rps']:>8}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['cold_ms']:>9}"
              f"{r['errors']:>8}{r['server_cpu_ms_per_request']!s:>19}{r['load_average']:>10}")


if __name__ == "__main__":
    main()
