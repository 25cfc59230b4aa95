"""Registry, generation (per label, any counts, seeded, JSON and .npy), interpolation, figures
and evaluation over HTTP, on a model registered through the real tracker."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.api.conftest import SMALL_HARMONICS, assert_problem, register_untrained

API = "/api/v1"


@pytest.fixture(scope="module")
def model(app, client):
    r = client.post(f"{API}/datasets", json={"name": "harm", **SMALL_HARMONICS})
    assert r.status_code == 201, r.text
    runtime = app.state.api.runtime
    meta = runtime.storage.get_dataset_meta("harm")
    ref = register_untrained(runtime, "harm-gan", meta, latent_dim=16)
    return {"name": ref.name, "version": ref.version, "labels": meta.label_names}


def test_registry_lists_models_versions_and_aliases(client, model):
    models = client.get(f"{API}/models").json()["items"]
    assert [m["name"] for m in models] == ["harm-gan"]
    assert client.get(f"{API}/models/harm-gan").json()["aliases"]["best"] == model["version"]
    versions = client.get(f"{API}/models/harm-gan/versions").json()["items"]
    assert versions[0]["config"]["architecture"] == "cwgan_gp"
    assert "best" in versions[0]["aliases"] and versions[0]["metrics"]["mmd"] == 1.0
    by_alias = client.get(f"{API}/models/harm-gan/versions/best").json()
    assert by_alias["version"] == model["version"]
    assert_problem(client.get(f"{API}/models/nope"), 404)
    assert_problem(client.get(f"{API}/models/harm-gan/versions/99"), 404)


def test_generate_per_label_counts_seed_and_formats(client, model):
    url = f"{API}/models/harm-gan/versions/{model['version']}/generate"
    labels = model["labels"]
    r = client.post(url, json={"n": 3, "labels": [labels[1], labels[4]], "seed": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["shape"] == [6, 1, 64] and body["labels"] == [1, 1, 1, 4, 4, 4]
    again = client.post(url, json={"n": 3, "labels": [labels[1], labels[4]], "seed": 7}).json()
    assert again["values"] == body["values"]  # reproducible with a seed

    r = client.post(url, params={"format": "npy"},
                    json={"counts": {labels[0]: 2, labels[9]: 5}, "seed": 7})
    arr = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert arr.shape == (7, 1, 64) and arr.dtype == np.float32
    assert r.headers["x-synthts-label-runs"] == "0*2,9*5"

    alias = client.post(f"{API}/models/harm-gan/versions/best/generate", json={"n": 1},
                        headers={"Accept": "application/x-npy"})
    assert np.load(io.BytesIO(alias.content)).shape == (10, 1, 64)  # every label once

    assert_problem(client.post(url, json={"n": 1, "labels": ["nope"]}), 422, "labels")
    assert_problem(client.post(url, json={"n": 0}), 422, "n")
    # a GAN generates the length it was trained on; another is refused, naming the field
    refused = assert_problem(client.post(url, json={"n": 1, "length": 128}), 422, "length")
    assert "64" in refused["detail"]
    assert client.post(url, json={"n": 1, "length": 64}).json()["shape"] == [10, 1, 64]
    assert_problem(client.post(url, json={"counts": {labels[0]: 1}, "n": 2}), 422, "counts")
    too_many = assert_problem(client.post(url, json={"n": 5000}), 413)  # 50000 x 64 > 2M
    assert too_many["setting"] == "SYNTHTS_MAX_GENERATE_VALUES"
    assert_problem(client.post(f"{API}/models/nope/versions/1/generate", json={"n": 1}), 404)


def test_interpolation_and_figures(client, model):
    base = f"{API}/models/harm-gan/versions/{model['version']}"
    labels = model["labels"]
    walk = client.post(f"{base}/interpolate", json={"start_label": labels[0],
                                                    "end_label": labels[3], "steps": 5})
    assert walk.status_code == 200, walk.text
    data = walk.json()
    assert len(data["values"]) == 5 and data["fractions"][0] == 0 and data["fractions"][-1] == 1
    assert data["label_weights"][0][0] == 1 and data["label_weights"][-1][3] == 1
    latent = client.post(f"{base}/interpolate", json={"steps": 4, "seed": 3,
                                                      "start_label": labels[2]}).json()
    assert len(latent["values"]) == 4 and latent["label_weights"] is None
    # the numbers parse back to exactly the float32 values the model gives (they were rounded
    # to 7 digits once, which is not exact)
    loaded = client.app.state.api.models.get("harm-gan", model["version"])
    expected = client.app.state.api.runtime.services.models.walk(
        loaded, steps=4, seed=3, start_label=labels[2])().values
    np.testing.assert_array_equal(np.asarray(latent["values"], np.float32),
                                  np.asarray(expected, np.float32))
    assert_problem(client.post(f"{base}/interpolate", json={"end_label": labels[1]}), 422,
                   "start_label")
    assert_problem(client.post(f"{base}/interpolate", json={"start": [0.1, 0.2]}), 422, "start")

    anim = client.post(f"{base}/interpolate/figure", json={"start_label": labels[0],
                                                           "end_label": labels[1], "steps": 3})
    assert len(anim.json()["frames"]) == 3
    fig = client.post(f"{base}/generate/figure", params={"dataset": "harm", "per_label": 2},
                      json={"n": 2, "labels": labels[:2]})
    assert fig.status_code == 200, fig.text and fig.json()["data"]
    page = client.post(f"{base}/generate/figure", params={"format": "html"}, json={"n": 1})
    assert page.headers["content-type"].startswith("text/html") and "plotly" in page.text


def test_evaluation_returns_and_stores_a_report(client, model):
    body = {"model": "harm-gan", "version": model["version"], "dataset": "harm",
            "metrics": ["mmd", "feature_cosine"], "n_per_label": 4, "seed": 1}
    r = client.post(f"{API}/evaluations", json=body)
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["dataset"] == "harm" and report["n_synthetic"] == 40
    assert {m["name"] for m in report["metrics"]} == {"mmd", "feature_cosine"}
    assert report["model"]["name"] == "harm-gan"
    assert report["verdict"] is None  # neither metric states a pass threshold


def test_evaluation_leads_with_a_verdict_per_class(client, model):
    """With the detector, the report carries the verdict: every class, worst first; with 4
    series per class the detector cannot vouch for a pass, and says so instead."""
    body = {"model": "harm-gan", "version": model["version"], "dataset": "harm",
            "metrics": ["detector"], "n_per_label": 4, "seed": 1}
    r = client.post(f"{API}/evaluations", json=body)
    assert r.status_code == 201, r.text
    verdict = r.json()["verdict"]
    assert verdict["metric"] == "detector" and verdict["threshold"] == 0.7
    assert len(verdict["classes"]) == 10 and verdict["passed"] is False
    # 4 + 4 series can show a class is told apart (8 of 8 right), never that it is not
    assert all(c["passed"] is not True for c in verdict["classes"])
    assert all(c["reason"] for c in verdict["classes"] if c["passed"] is None)
    values = [c["value"] for c in verdict["classes"] if c["passed"] is False]
    assert values == sorted(values, reverse=True)  # worst first
    assert_problem(client.post(f"{API}/evaluations", json={**body, "metrics": ["nope"]}), 422,
                   "metrics")
    assert_problem(client.post(f"{API}/evaluations", json={**body, "dataset": "nope"}), 404)
    metrics = client.get(f"{API}/metrics").json()["items"]
    assert {"mmd", "discriminative"} <= {m["name"] for m in metrics}
    archs = {a["name"]: a for a in client.get(f"{API}/architectures").json()["items"]}
    assert archs["cgan"]["conditional"] and archs["wgan_gp"]["space"]
