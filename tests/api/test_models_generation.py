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
    loaded = client.app.state.api.generation.models.get("harm-gan", model["version"])
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


def test_generate_with_the_learnt_missing_points(app, client, model):
    """``missing="learned"``: null (NaN in .npy) where the pattern the model learnt draws a
    gap, the same gaps for the same seed; refused by name where no pattern can be drawn."""
    runtime = app.state.api.runtime
    meta = runtime.storage.get_dataset_meta("harm")
    rates = np.zeros((len(meta.label_names), 1, 64))
    rates[:, :, :16] = 1.0  # every series misses its first 16 points ...
    rates[3, :, 16:] = 0.5  # ... and class 3 half the others
    register_untrained(runtime, "gap-gan", meta, latent_dim=16,
                       missing={"rate": 0.3, "by_class": rates.tolist()})
    url = f"{API}/models/gap-gan/versions/1/generate"
    body = {"counts": {model["labels"][3]: 40, model["labels"][5]: 4}, "seed": 11}
    r = client.post(url, json={**body, "missing": "learned"})
    assert r.status_code == 200, r.text
    values = np.array([[[np.nan if v is None else v for v in ch] for ch in s]
                       for s in r.json()["values"]], dtype=np.float64)
    gaps = np.isnan(values)
    assert gaps[:, :, :16].all() and 0.35 < gaps[:40, :, 16:].mean() < 0.65
    assert not gaps[40:, :, 16:].any()
    complete = client.post(url, json=body).json()["values"]
    assert np.isfinite(np.array(complete, dtype=np.float64)).all()
    np.testing.assert_array_equal(values[~gaps], np.array(complete)[~gaps])
    npy = client.post(url, params={"format": "npy"}, json={**body, "missing": "learned"})
    np.testing.assert_array_equal(np.isnan(np.load(io.BytesIO(npy.content))), gaps)
    import mlflow.pyfunc  # the logged model draws the same gaps, written None (JSON null)

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(runtime.settings.mlflow_tracking_uri)
    try:
        served = mlflow.pyfunc.load_model("models:/gap-gan/1").predict(
            [{"label": model["labels"][3], "count": 40, "seed": 11, "missing": "learned"}])
    finally:
        mlflow.set_tracking_uri(before)
    rows = [channel for series in served["values"] for channel in series]
    assert any(None in row for row in rows)
    assert not any(isinstance(x, float) and x != x for row in rows for x in row)

    register_untrained(runtime, "dp-gap-gan", meta, latent_dim=16,
                       missing={"rate": None, "withheld": "trained with differential privacy"})
    refused = client.post(f"{API}/models/dp-gap-gan/versions/1/generate",
                          json={"n": 1, "missing": "learned"})
    assert "differential privacy" in assert_problem(refused, 422, "missing")["detail"]
    assert_problem(client.post(url, json={"n": 1, "missing": "some"}), 422, "missing")
    # a model that learnt complete series gives complete ones
    plain = client.post(f"{API}/models/harm-gan/versions/{model['version']}/generate",
                        json={"n": 1, "missing": "learned", "seed": 1}).json()["values"]
    assert None not in np.array(plain, dtype=object).ravel()


def test_a_model_that_learnt_unequal_lengths_answers_ragged_series(app, client, model):
    """Each series as long as its drawn length (JSON ``lengths``, padding never written; NaN
    past the end in .npy), the same lengths for the same seed; ``length`` cuts them all."""
    runtime = app.state.api.runtime
    meta = runtime.storage.get_dataset_meta("harm")
    table = [[[40, 1], [64, 1]] if k % 2 == 0 else [[50, 3]] for k in range(10)]
    register_untrained(runtime, "len-gan", meta, latent_dim=16, lengths={"by_class": table})
    url = f"{API}/models/len-gan/versions/1/generate"
    body = {"counts": {model["labels"][0]: 30, model["labels"][1]: 5}, "seed": 2}
    answer = client.post(url, json=body).json()
    lengths = answer["lengths"]
    assert set(lengths[:30]) == {40, 64} and set(lengths[30:]) == {50}
    assert [len(s[0]) for s in answer["values"]] == lengths
    assert client.post(url, json=body).json()["lengths"] == lengths
    npy = np.load(io.BytesIO(client.post(url, params={"format": "npy"}, json=body).content))
    assert npy.shape == (35, 1, 64)
    assert (np.isnan(npy).sum(axis=(1, 2)) == 64 - np.array(lengths)).all()
    cut = client.post(url, json={**body, "length": 30}).json()
    assert cut["shape"] == [35, 1, 30] and cut["lengths"] is None
    np.testing.assert_array_equal(  # exact at float32 (each JSON writer's shortest text)
        np.array(cut["values"], np.float32),
        np.array([s[0][:30] for s in answer["values"]], np.float32)[:, None])
    assert_problem(client.post(url, json={**body, "length": 65}), 422, "length")
