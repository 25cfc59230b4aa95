"""Load test of the generation endpoint on a live server: batched path vs single-request path.

Starts ``uvicorn`` in a subprocess on a free loopback port over a temp data folder, registers a
seed-sized conditional WGAN-GP (the seed's fully connected networks, latent 100, length 1024,
10 classes) through the real tracker with freshly initialised weights (no training: the cost
of a forward pass does not depend on what the weights learned), then for each path:

- ``cold_ms``: the first generation request to that version (loads it into the model cache);
- warm: ``--clients`` concurrent clients for ``--seconds`` each asking for 100 series x 1024
  (10 per label), as float32 ``.npy`` by default.

The clients run in this process and share the machine's cores with the server, so they are
kept lean: by default (``--client raw``) each is one keep-alive HTTP/1.1 connection that sends
the same prepared request and reads the answer by its Content-Length, checking the status and
that the length equals that of the first answer (which is fully parsed and checked); ``--client
httpx`` uses one ``httpx.AsyncClient`` instead (about 2 ms more client CPU per .npy request,
more for JSON). Both paths are measured with the same client in the same run.

The two paths, measured one after the other in the same run on fresh servers:

- ``batched`` (the default server): concurrent requests for one model version share one forward
  pass, and JSON is written by NumPy without a Python float per value;
- ``single`` (``SYNTHTS_GENERATE_BATCHING=false``): one forward pass per request, the path
  before batching (JSON is written by the same encoder: the old one, through Python lists,
  wrote 7 digits, which do not parse back to the same float32);
- ``batched-1t`` and ``single-1t``: the same with ``SYNTHTS_INFERENCE_THREADS=1``, the
  server before forward passes used every core (one torch thread, the other core left to the
  event loop).

Prints one JSON object per path (``rps``, ``p50_ms``, ``p99_ms``, ``cold_ms``, ...) and a
side-by-side summary. Targets on a 2-core machine: ``.npy`` at 8 clients >= 150 req/s with
p99 <= 60 ms; JSON at 4 clients >= 100 req/s.

    python benchmarks/api_load.py [--clients 8] [--seconds 10] [--format npy|json]
                                  [--paths batched,single] [--client raw|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from synthts_core.ports import free_port

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




def start_server(data_dir: Path, port: int, batching: bool = True,
                 threads: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "SYNTHTS_DATA_DIR": str(data_dir), "SYNTHTS_DEVICE": "cpu",
           "SYNTHTS_GENERATE_BATCHING": "true" if batching else "false"}
    env.pop("SYNTHTS_API_TOKEN", None)
    env.pop("SYNTHTS_INFERENCE_THREADS", None)
    if threads is not None:
        env["SYNTHTS_INFERENCE_THREADS"] = str(threads)
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


class RawConnection:
    """One keep-alive HTTP/1.1 connection that sends one prepared request again and again and
    reads each answer by its Content-Length: a client that costs the shared CPU little."""

    def __init__(self, url: str, path: str, body: bytes) -> None:
        parts = httpx.URL(url)
        self.host, self.port = parts.host, parts.port
        self.request = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                        f"Content-Type: application/json\r\nAccept-Encoding: identity\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port,
                                                                 limit=1 << 24)

    async def post(self) -> tuple[int, int]:
        """(status, body length) of one request."""
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = -1
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length < 0:
            raise RuntimeError("the answer has no Content-Length; the raw client needs one")
        await self.reader.readexactly(length)
        return status, length

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def load(url: str, version: str, clients: int, seconds: float, fmt: str,
               server_cpu: Callable[[], tuple[float, int] | None] = lambda: None,
               client_kind: str = "raw") -> dict:
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
        expected_length = len(first.content)
        for _ in range(5):  # warm the connections
            (await client.post(path, json=body, params={"format": fmt})).raise_for_status()

        latencies: list[float] = []
        errors = 0
        stop_at = time.perf_counter() + seconds

        async def httpx_worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                r = await client.post(path, json=body, params={"format": fmt})
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += r.status_code != 200 or len(r.content) != expected_length

        raw = [RawConnection(url, f"{path}?format={fmt}", json.dumps(body).encode())
               for _ in range(clients if client_kind == "raw" else 0)]
        for connection in raw:
            await connection.open()
            status, length = await connection.post()
            assert status == 200 and length == expected_length, (status, length)

        async def raw_worker(connection: RawConnection) -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                status, length = await connection.post()
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += status != 200 or length != expected_length

        server_before = server_cpu()
        client_before = time.process_time()
        began = time.perf_counter()
        if raw:
            await asyncio.gather(*(raw_worker(c) for c in raw))
        else:
            await asyncio.gather(*(httpx_worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
        client_cpu = time.process_time() - client_before
        server_after = server_cpu()
        for connection in raw:
            await connection.close()
    lat = np.asarray(latencies)
    n = max(1, len(lat))
    cpu_ms = faults = None
    if server_before is not None and server_after is not None:
        cpu_ms = round((server_after[0] - server_before[0]) * 1000 / n, 2)
        faults = round((server_after[1] - server_before[1]) / n)
    return {"rps": round(len(lat) / elapsed, 1), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1), "cold_ms": round(cold_ms, 1),
            "server_cpu_ms_per_request": cpu_ms, "server_page_faults_per_request": faults,
            "client_cpu_ms_per_request": round(client_cpu * 1000 / n, 2), "client": client_kind,
            "load_average": round(os.getloadavg()[0], 2),
            "requests": len(lat), "errors": errors, "clients": clients,
            "seconds": round(elapsed, 1), "format": fmt, "series": 100, "length": LENGTH,
            "bytes_per_answer": expected_length,
            "weights": "freshly initialised cwgan_gp (seed mlp networks), not trained"}


def check(response: httpx.Response, fmt: str) -> None:
    if fmt == "npy":
        shape = np.load(io.BytesIO(response.content), allow_pickle=False).shape
    else:
        shape = tuple(response.json()["shape"])
    assert shape == (100, 1, LENGTH), shape


PATHS = {  # path: (SYNTHTS_GENERATE_BATCHING, SYNTHTS_INFERENCE_THREADS; None = every core)
    "batched": (True, None),
    "single": (False, None),
    "batched-1t": (True, 1),
    "single-1t": (False, 1),
}


def cpu_seconds(pid: int) -> tuple[float, int] | None:
    """User + system CPU time and minor page faults of a process (Linux ``/proc``; None
    elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), int(fields[7])


def run_loop(main: Any) -> Any:
    """``asyncio.run`` on uvloop when it is installed (it is with uvicorn[standard]): the
    client's event loop then costs less of the CPU the server shares."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run_path(data_dir: Path, version: str, path: str, args: argparse.Namespace) -> dict:
    """One server, one load; also the server's CPU time per request, which a machine shared
    with other work changes far less than the request rate."""
    port = free_port()
    server = start_server(data_dir, port, *PATHS[path])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        result = run_loop(load(url, version, args.clients, args.seconds, args.format,
                               lambda: cpu_seconds(server.pid), args.client))
    finally:
        server.terminate()
        server.wait(30)
    return {"path": path, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--format", choices=("npy", "json"), default="npy")
    parser.add_argument("--paths", default="batched,single,batched-1t",
                        help="comma-separated, from: " + ", ".join(PATHS))
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="raw: lean keep-alive HTTP/1.1 connections (default); httpx: "
                             "httpx.AsyncClient")
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
    print(f"{'path':<11}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'cold ms':>9}{'errors':>8}"
          f"{'server CPU ms/req':>19}{'client CPU ms/req':>19}{'load avg':>10}")
    for r in results:
        print(f"{r['path']:<11}{r['rps']:>8}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['cold_ms']:>9}"
              f"{r['errors']:>8}{r['server_cpu_ms_per_request']!s:>19}"
              f"{r['client_cpu_ms_per_request']!s:>19}{r['load_average']:>10}")


if __name__ == "__main__":
    main()
