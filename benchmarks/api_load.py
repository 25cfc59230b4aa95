"""Load test of the generation endpoint on a live server.

Starts ``uvicorn`` in a subprocess on a free loopback port over a temp data folder, registers a
seed-sized conditional WGAN-GP (the seed's fully connected networks, latent 100, length 1024,
10 classes) through the real tracker with freshly initialised weights (no training: the cost
of a forward pass does not depend on what the weights learned), then:

- ``cold_ms``: the first generation request to that version (loads it into the model cache);
- warm: ``--clients`` concurrent httpx clients for ``--seconds`` each asking for 100 series x
  1024 (10 per label), as float32 ``.npy`` by default.

Prints one JSON object: ``rps``, ``p50_ms``, ``p99_ms``, ``cold_ms`` (plus the parameters).
Target on a 2-core machine: ``rps >= 50`` with ``p99_ms < 100``.

    python benchmarks/api_load.py [--clients 2] [--seconds 10] [--format npy|json]
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


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "SYNTHTS_DATA_DIR": str(data_dir), "SYNTHTS_DEVICE": "cpu"}
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


async def load(url: str, version: str, clients: int, seconds: float, fmt: str) -> dict:
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

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    lat = np.asarray(latencies)
    return {"rps": round(len(lat) / elapsed, 1), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1), "cold_ms": round(cold_ms, 1),
            "requests": len(lat), "errors": errors, "clients": clients,
            "seconds": round(elapsed, 1), "format": fmt, "series": 100, "length": LENGTH,
            "weights": "freshly initialised cwgan_gp (seed mlp networks), not trained"}


def check(response: httpx.Response, fmt: str) -> None:
    if fmt == "npy":
        shape = np.load(io.BytesIO(response.content), allow_pickle=False).shape
    else:
        shape = tuple(response.json()["shape"])
    assert shape == (100, 1, LENGTH), shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--format", choices=("npy", "json"), default="npy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synthts-api-load-") as tmp:
        data_dir = Path(tmp)
        version = register_model(data_dir)
        port = free_port()
        server = start_server(data_dir, port)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url)
            result = asyncio.run(load(url, version, args.clients, args.seconds, args.format))
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
