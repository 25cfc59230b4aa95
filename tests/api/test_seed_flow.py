"""The seed's whole flow through the API alone, against a live uvicorn on loopback: create the
10-class harmonic dataset (small counts and length), browse it, plot it, train on a real local
Ray (tiny search), follow the job's progress as server-sent events, list the registry,
generate per label, evaluate."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest

from tests.api.conftest import api_settings, live_server

API = "/api/v1"
TINY_SPACE = {"latent_dim": 8, "batch_size": 16, "embed_dim": 4}


def _sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    events, kind, data = [], None, []
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].strip())
        elif not line and data:
            events.append((kind or "message", json.loads("\n".join(data))))
            kind, data = None, []
    return events


@pytest.mark.ray
@pytest.mark.slow
def test_seed_flow_through_the_api(tmp_path, local_ray):
    settings = api_settings(tmp_path / "flow", ray_cpus_per_trial=1.0)
    with live_server(settings) as url, httpx.Client(base_url=url + API, timeout=120) as c:
        # 1. create the seed's 10-class harmonic dataset (8 series per class, length 64)
        r = c.post("/datasets", json={"name": "harmonics", "preset": "harmonics10",
                                      "overrides": {"count": 8, "length": 64}})
        assert r.status_code == 201, r.text
        labels = r.json()["label_names"]
        assert len(labels) == 10

        # 2. browse and plot it
        listing = c.get("/datasets", params={"label": labels[0]}).json()
        assert [d["name"] for d in listing["items"]] == ["harmonics"]
        values = c.get("/datasets/harmonics/values", params={"per_label": 1}).json()
        assert values["shape"] == [10, 1, 64] and values["labels"] == list(range(10))
        assert len(c.get("/datasets/harmonics/figure").json()["data"]) == 30

        # 3. train: a tiny one-trial C-GAN search on the local Ray, 202 at once
        job = c.post("/jobs", json={
            "dataset": "harmonics", "architectures": ["cgan"], "num_trials": 1, "epochs": 2,
            "search_space": TINY_SPACE, "model_name": "harmonics-gan", "seed": 1})
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        assert job.headers["location"] == f"{API}/jobs/{job_id}"
        assert job.json()["status"] in ("queued", "running")

        # 4. follow its progress as server-sent events until it ends
        with c.stream("GET", f"/jobs/{job_id}/events", params={"interval": 0.2}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _sse_events(stream)
        kinds = [k for k, _ in events]
        assert kinds[-1] == "end" and "progress" in kinds
        assert events[-1][1]["status"] == "succeeded", events[-1][1]
        job = c.get(f"/jobs/{job_id}").json()
        assert job["terminal"] and job["progress"] == 1.0
        trial = job["trials"][0]
        assert trial["epoch"] == 2 and trial["metrics"] and len(trial["history"]) == 2
        assert any(j["id"] == job_id for j in c.get("/jobs").json()["items"])

        # 5. the registry has the best version
        models = {m["name"]: m for m in c.get("/models").json()["items"]}
        assert "harmonics-gan" in models
        version = c.get("/models/harmonics-gan/versions").json()["items"][0]
        assert version["config"]["dataset"]["name"] == "harmonics"

        # 6. generate per label, any count per label
        r = c.post(f"/models/harmonics-gan/versions/{version['version']}/generate",
                   params={"format": "npy"}, json={"counts": {labels[0]: 3, labels[7]: 1},
                                                   "seed": 5})
        assert r.status_code == 200, r.text
        assert np.load(io.BytesIO(r.content)).shape == (4, 1, 64)

        # 7. evaluate it against the dataset; the report comes back
        report = c.post("/evaluations", json={"model": "harmonics-gan", "dataset": "harmonics",
                                              "version": version["version"],
                                              "metrics": ["mmd"], "n_per_label": 4})
        assert report.status_code == 201, report.text
        assert report.json()["metrics"][0]["name"] == "mmd"
