"""Serving under stress (issue 13): stalled bodies, too many uploads at once, paths kept from
callers without the token, and concurrent generation requests batched into one forward pass
with JSON written without Python floats."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from litestar.testing import TestClient

from synthts_core.api import create_app
from tests.api.conftest import (
    SMALL_HARMONICS,
    api_settings,
    assert_problem,
    live_server,
    register_untrained,
)

API = "/api/v1"


def _stalled(url: str, path: str, content_type: str) -> socket.socket:
    """A connection that announces a 100-byte body, sends 10 bytes and then nothing."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: "
                 f"{content_type}\r\nContent-Length: 100\r\n\r\n".encode() + b'{"values":')
    return sock


def _status_line(sock: socket.socket) -> bytes:
    sock.settimeout(60)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def test_stalled_bodies_time_out_and_uploads_are_capped(tmp_path):
    settings = api_settings(tmp_path / "live", request_body_timeout_s=1.0,
                            max_concurrent_uploads=1)
    with live_server(settings) as url:
        stalled_json = _stalled(url, f"{API}/datasets", "application/json")
        stalled_upload = _stalled(url, f"{API}/datasets/upload?name=slow&format=json",
                                  "application/json")
        try:
            import time

            time.sleep(0.3)  # let the server take the upload slot
            second = httpx.post(f"{url}{API}/datasets/upload",
                                params={"name": "second", "format": "json"},
                                content=b'{"values": [[1, 2, 3]]}', timeout=30)
            body = assert_problem(second, 429)
            assert second.headers["retry-after"] and "SYNTHTS_MAX_CONCURRENT_UPLOADS" in \
                body["detail"]
            assert b" 408 " in _status_line(stalled_json)
            assert b" 408 " in _status_line(stalled_upload)
        finally:
            stalled_json.close()
            stalled_upload.close()
        again = httpx.post(f"{url}{API}/datasets/upload", params={"name": "second",
                                                                   "format": "json"},
                           content=b'{"values": [[1, 2, 3]]}', timeout=30)
        assert again.status_code == 201, again.text  # the slot was given back


def test_paths_are_shown_only_to_callers_with_the_token(tmp_path):
    app = create_app(api_settings(tmp_path / "d", api_token="s3cret"))
    secret_dir = str(tmp_path)
    auth = {"Authorization": "Bearer s3cret"}
    runtime = app.state.api.runtime
    with TestClient(app) as c:
        assert c.post(f"{API}/datasets", json={"name": "p", **SMALL_HARMONICS},
                      headers=auth).status_code == 201
        ref = register_untrained(runtime, "p-gan", runtime.storage.get_dataset_meta("p"),
                                 latent_dim=8)
        from synthts_core.domain import JobSpec, TrainingJob

        runtime.storage.create_job(TrainingJob(
            id="j1", spec=JobSpec(dataset="p"), status="failed",
            errors=[f"could not write {secret_dir}/ray/checkpoint: disk full"]))
        for url in ("/ready", f"{API}/ready", f"{API}/info", f"{API}/jobs", f"{API}/jobs/j1",
                    f"{API}/models/p-gan/versions", f"{API}/models/p-gan/versions/1"):
            anonymous = c.get(url)
            assert anonymous.status_code == 200, anonymous.text
            assert secret_dir not in anonymous.text, url
        assert secret_dir in c.get(f"{API}/info", headers=auth).text
        assert "disk full" in c.get(f"{API}/jobs/j1").json()["errors"][0]
        assert c.get(f"{API}/models/p-gan/versions/1").json()["source"] is None
        shown = c.get(f"{API}/models/p-gan/versions/1", headers=auth).json()
        assert shown["source"] == ref.source
    with TestClient(create_app(api_settings(tmp_path / "open"))) as c:  # no token: all shown
        assert str(tmp_path / "open") in c.get(f"{API}/info").text


def test_backend_errors_hide_paths_from_callers_without_the_token(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the storage folder should be")
    storage = f"sqlite:///{blocker}/sub/synthts.db"
    app = create_app(api_settings(tmp_path / "d", api_token="s3cret", storage=storage))
    with TestClient(app) as c:
        anonymous = c.get(f"{API}/datasets")
        assert_problem(anonymous, 503)
        assert str(blocker) not in anonymous.text
        ready = c.get("/ready")
        assert ready.status_code == 503 and str(blocker) not in ready.text
        shown = c.get(f"{API}/datasets", headers={"Authorization": "Bearer s3cret"})
        assert str(blocker) in assert_problem(shown, 503)["detail"]


# ------------------------------------------------------------------------- batching


DIFFUSION = {"d_model": 16, "layers": 1, "heads": 2, "sampling_steps": 4, "train_epochs": 2}


@pytest.mark.parametrize("model_params", [
    {"latent_dim": 32, "noise_inputs": False}, {"latent_dim": 32, "noise_inputs": True},
    {"architecture": "diffusion", **DIFFUSION}], ids=["plain", "noise-inputs", "diffusion"])
def test_concurrent_requests_share_forward_passes(tmp_path, model_params):
    """Eight clients at once on a live server: fewer forward passes than requests, and each
    answer equals what the model gives that request alone (same seed, same latents; for a
    generator with noise inputs, the same per-point noise too; for a diffusion model, the same
    initial noise)."""
    from synthts_core.runtime import Runtime

    settings = api_settings(tmp_path / "batch")
    with Runtime(settings) as rt:
        from synthts_core.services import generation

        spec = generation.resolve_preset(rt.registries, "harmonics10", name="serve", count=8,
                                         length=256)
        meta = rt.services.datasets.store(generation.build_dataset(rt.registries, spec))
        ref = register_untrained(rt, "serve-gan", meta, **model_params)
    labels = meta.label_names
    bodies = [{"n": 40, "seed": s} for s in range(6)] + [
        {"counts": {labels[1]: 7, labels[4]: 0}, "seed": 9}, {"n": 3, "labels": [labels[2]]}]
    path = f"{API}/models/serve-gan/versions/{ref.version}/generate"
    app = create_app(settings)

    async def clients() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=120) as c:
            (await c.post(path, json={"n": 1})).raise_for_status()  # load the model
            return await asyncio.gather(*(
                c.post(path, json=b, params={"format": "npy" if i % 2 else "json"})
                for i, b in enumerate(bodies)))

    with live_server(settings, app) as url:
        answers = asyncio.run(clients())
        batcher = app.state.api.generation.batcher
        assert batcher.requests == len(bodies) + 1
        assert batcher.passes < batcher.requests
        model = app.state.api.generation.models.get("serve-gan", ref.version)
    for i, (body, answer) in enumerate(zip(bodies, answers, strict=True)):
        assert answer.status_code == 200, answer.text
        if i % 2:
            got = np.load(io.BytesIO(answer.content), allow_pickle=False)
        else:
            got = np.asarray(answer.json()["values"], np.float32)
        alone, label_idx = model.generate(body.get("n"), labels=body.get("labels"),
                                          counts=body.get("counts"), seed=body.get("seed"))
        assert got.shape == alone.shape
        np.testing.assert_allclose(got, alone, rtol=1e-5, atol=1e-5)
        if i % 2 == 0:
            assert answer.json()["labels"] == label_idx.tolist()


def test_the_single_request_path_stays_available(tmp_path):
    app = create_app(api_settings(tmp_path / "single", generate_batching=False))
    runtime = app.state.api.runtime
    with TestClient(app) as c:
        created = c.post(f"{API}/datasets", json={"name": "s", **SMALL_HARMONICS})
        assert created.status_code == 201, created.text
        ref = register_untrained(runtime, "s-gan", runtime.storage.get_dataset_meta("s"),
                                 latent_dim=8)
        r = c.post(f"{API}/models/s-gan/versions/{ref.version}/generate", json={"n": 2,
                                                                               "seed": 3})
        assert r.status_code == 200 and np.asarray(r.json()["values"]).shape == (20, 1, 64)
        assert app.state.api.generation.batcher is None


def test_a_requests_noise_is_drawn_ahead_exactly_as_alone():
    """A generator with noise inputs draws per-point noise in its forward pass; batching hands
    each request the noise it would draw alone (``sampling_noise``), chunk for chunk."""
    import torch
    from synthts_gan.plugin import builtin_architectures

    arch = {a.name: a for a in builtin_architectures()}["cwgan_gp"]
    trainer = arch.build({"latent_dim": 8, "length": 16, "n_channels": 2, "n_classes": 3,
                          "noise_inputs": True, "seed": 0}, "cpu")
    labels = np.array([0, 1, 2, 2, 1, 0, 1])
    alone = trainer.generate(7, labels=labels, seed=11, chunk=3)
    z = torch.randn(7, 8, generator=torch.Generator().manual_seed(11)).numpy()
    ahead = trainer.generate(7, labels=labels, z=z, noise=trainer.sampling_noise(7, 11, chunk=3),
                             chunk=5)
    np.testing.assert_allclose(ahead, alone, rtol=1e-5, atol=1e-6)  # other chunks: rounding
    redrawn = trainer.generate(7, labels=labels, z=z, chunk=3)
    assert np.abs(redrawn - alone).max() > 1e-3
    with pytest.raises(ValueError, match="noise must be"):
        trainer.generate(2, labels=[0, 1], z=z[:2], noise=np.zeros((2, 2, 15), np.float32))


# ------------------------------------------------------------------------- JSON encoding


def _float32_from_json(text: bytes) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in json.loads(text)], np.float32)


def test_json_array_round_trips_every_float32_exactly():
    """9 significant digits: any float32 (random bit patterns over every exponent, powers of
    ten and their neighbours, subnormals, the largest finite) parses back to the same bits."""
    from synthts_core.api.encoding import json_array

    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 300_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    tens = (10.0 ** np.arange(-45, 39)).astype(np.float32)
    edges = np.array([1e-45, -1e-45, 1.1754942e-38, 1.1754944e-38, 3.4028235e38, -3.4028235e38,
                      1.0, 0.1, 9.9999999e9, 0.99999994, 16777217.0], np.float32)
    values = np.concatenate([bits, tens, np.nextafter(tens, np.float32(0)),
                             np.nextafter(tens, np.float32(np.inf)), edges])
    values = values[np.isfinite(values) & (values != 0)]
    decoded = _float32_from_json(json_array(values))
    np.testing.assert_array_equal(decoded.view(np.uint32), values.view(np.uint32))
    shaped = values[:4096].reshape(4, 1, 1024)
    again = np.asarray(json.loads(json_array(shaped)), np.float32)
    np.testing.assert_array_equal(again.view(np.uint32), shaped.view(np.uint32))


def test_json_array_edge_values_and_shapes():
    from synthts_core.api.encoding import json_array

    special = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 9.9999996e-5, 0.99999996, 3.4e38, 1e-45,
                        np.nan, np.inf, -np.inf], np.float32)
    text = json_array(special)
    decoded = json.loads(text)
    assert decoded[9:] == [None, None, None]  # JSON has no NaN or infinity
    head = np.array(decoded[:9], np.float32)
    np.testing.assert_array_equal(head.view(np.uint32), special[:9].view(np.uint32))  # -0.0 too
    assert b"e" not in text.split(b",")[0] and b"e" not in text.split(b",")[1]  # zeros: 0.0
    for shape in [(1,), (3,), (2, 3), (2, 1, 4), (2, 2, 2, 2)]:
        a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) - 3
        assert json.loads(json_array(a)) == a.tolist()
    assert json.loads(json_array(np.zeros((0, 1, 5), np.float32))) == []


@pytest.mark.parametrize("threads", [None, 1, 3])
def test_forward_passes_use_the_configured_torch_threads(tmp_path, threads):
    """The inference thread runs torch with SYNTHTS_INFERENCE_THREADS threads, every core by
    default (one thread left the second core idle while the inference thread was the
    bottleneck). The count is process-wide in torch, so it is restored afterwards."""
    import os

    import torch

    before = torch.get_num_threads()
    app = create_app(api_settings(tmp_path / "threads", inference_threads=threads))
    try:
        got = app.state.api.generation.inference.submit(torch.get_num_threads).result(timeout=30)
    finally:
        app.state.api.close()
        torch.set_num_threads(before)
    assert got == (threads or os.cpu_count())
