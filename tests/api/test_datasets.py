"""Datasets and signals over HTTP: create, browse, slice, plot, export, upload, delete."""

from __future__ import annotations

import io
import json

import numpy as np

from tests.api.conftest import SMALL_HARMONICS, assert_problem

API = "/api/v1"


def test_catalogue_lists_generators_with_parameter_schemas(client):
    r = client.get(f"{API}/signals")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    items = {s["name"]: s for s in r.json()["items"]}
    sine = items["sinusoidal"]
    assert sine["kind"] == "signal" and sine["plugin"]
    freq = next(p for p in sine["params"] if p["name"] == "frequency")
    assert freq["kind"] == "float" and "allowed" in freq and "default" in freq
    noises = client.get(f"{API}/signals", params={"kind": "noise"}).json()["items"]
    assert noises and all(n["kind"] == "noise" for n in noises)
    assert client.get(f"{API}/signals/sinusoidal").json()["name"] == "sinusoidal"
    assert_problem(client.get(f"{API}/signals/nope"), 404)
    presets = client.get(f"{API}/presets").json()["items"]
    assert "harmonics10" in {p["name"] for p in presets}


def test_preview_returns_series_without_storing(client):
    body = {"signal": {"generator": "sinusoidal", "params": {"frequency": 2.0}},
            "noise": {"generator": "gaussian_noise", "params": {"std": 0.1}},
            "n": 3, "length": 50, "seed": 1}
    r = client.post(f"{API}/signals/preview", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert len(data["values"]) == 3 and len(data["values"][0]) == 50 and len(data["times"]) == 50
    assert client.post(f"{API}/signals/preview", json=body).json() == data  # seeded
    assert client.get(f"{API}/datasets").json()["page"]["total"] == 0
    bad = dict(body, signal={"generator": "sinusoidal", "params": {"frequency": -3}})
    assert_problem(client.post(f"{API}/signals/preview", json=bad), 422,
                   "signal.params.frequency")
    assert_problem(client.post(f"{API}/signals/preview", json=dict(body, n=0)), 422, "n")


def test_create_browse_slice_plot_export_delete(client):
    r = client.post(f"{API}/datasets", json={"name": "harm", **SMALL_HARMONICS,
                                             "tags": ["seed"]})
    assert r.status_code == 201, r.text
    meta = r.json()
    assert r.headers["location"] == f"{API}/datasets/harm"
    assert (meta["n_series"], meta["length"], len(meta["label_names"])) == (80, 64, 10)
    assert meta["checksum"].startswith("sha256:") and meta["spec"]["seed"] == 0

    assert_problem(client.post(f"{API}/datasets", json={"name": "harm", **SMALL_HARMONICS}),
                   409)

    page = client.get(f"{API}/datasets", params={"limit": 1, "tag": "seed"}).json()
    assert page["page"] == {"total": 1, "offset": 0, "limit": 1, "next_offset": None,
                            "prev_offset": None}
    assert client.get(f"{API}/datasets", params={"name_contains": "zzz"}).json()["items"] == []

    got = client.get(f"{API}/datasets/harm")
    assert got.json()["name"] == "harm"
    assert client.get(f"{API}/datasets/harm",
                      headers={"If-None-Match": got.headers["etag"]}).status_code == 304

    labels = meta["label_names"]
    r = client.get(f"{API}/datasets/harm/values",
                   params={"label": [labels[2], labels[5]], "per_label": 2})
    vals = r.json()
    assert vals["shape"] == [4, 1, 64] and vals["labels"] == [2, 2, 5, 5]
    assert len(vals["times"]) == 64

    r = client.get(f"{API}/datasets/harm/values", params={"offset": 10, "limit": 5},
                   headers={"Accept": "application/x-npy"})
    assert r.headers["content-type"] == "application/x-npy"
    arr = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert arr.shape == (5, 1, 64) and arr.dtype == np.float32
    np.testing.assert_allclose(
        arr, np.asarray(client.get(f"{API}/datasets/harm/values",
                                   params={"offset": 10, "limit": 5}).json()["values"]),
        rtol=1e-6)
    assert r.headers["x-synthts-label-runs"] == "1*5"

    assert_problem(client.get(f"{API}/datasets/harm/values", params={"label": "nope"}), 422,
                   "label")
    assert_problem(client.get(f"{API}/datasets/harm/values", params={"channel": 3}), 422,
                   "channel")

    fig = client.get(f"{API}/datasets/harm/figure", params={"per_label": 2}).json()
    assert len(fig["data"]) >= 10
    html = client.get(f"{API}/datasets/harm/figure", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text

    csv = client.get(f"{API}/datasets/harm/export", params={"format": "csv"})
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    assert csv.text.splitlines()[0].replace('"', '').startswith("series,label")
    npy = client.get(f"{API}/datasets/harm/export", params={"format": "npy"})
    assert np.load(io.BytesIO(npy.content)).shape == (80, 1, 64)
    pq = client.get(f"{API}/datasets/harm/export", params={"format": "parquet"})
    assert pq.content[:4] == b"PAR1"

    assert client.delete(f"{API}/datasets/harm").status_code == 204
    assert_problem(client.get(f"{API}/datasets/harm"), 404)
    assert_problem(client.delete(f"{API}/datasets/harm"), 404)


def test_create_from_a_spec_and_bad_specs_name_the_field(client):
    spec = {"length": 32, "n_channels": 2, "seed": 3, "classes": [
        {"label": "a", "count": 4, "signal": {"generator": "sinusoidal",
                                              "params": {"frequency": 1.0}}},
        {"label": "b", "count": 3, "signal": {"generator": "sinusoidal",
                                              "params": {"frequency": 3.0}}}]}
    r = client.post(f"{API}/datasets", json={"name": "two-ch", "spec": spec})
    assert r.status_code == 201, r.text
    assert (r.json()["n_series"], r.json()["n_channels"]) == (7, 2)
    one = client.get(f"{API}/datasets/two-ch/values", params={"channel": 1}).json()
    assert one["shape"] == [7, 1, 32] and one["channels"] == [1]

    bad = json.loads(json.dumps(spec))
    bad["classes"][1]["signal"]["params"]["frequency"] = -1
    assert_problem(client.post(f"{API}/datasets", json={"name": "x1", "spec": bad}), 422,
                   "classes[1].signal.params.frequency")
    assert_problem(client.post(f"{API}/datasets", json={"name": "x2", "spec": {**spec,
                                                                          "length": 1}}),
                   422, "length")
    assert_problem(client.post(f"{API}/datasets", json={"name": "bad name!", "spec": spec}),
                   422, "name")
    assert_problem(client.post(f"{API}/datasets", json={"name": "x3"}), 422, "spec")
    assert_problem(client.post(f"{API}/datasets", json={"name": "x4", "preset": "nope"}), 422,
                   "preset")
    # malformed JSON is a malformed request (400), still as problem details
    assert_problem(client.post(f"{API}/datasets", content=b"{not json",
                               headers={"Content-Type": "application/json"}), 400)


def test_generation_volume_limit_names_the_setting(client):
    body = {"name": "huge", "preset": "harmonics10",
            "overrides": {"count": 1000, "length": 1024}}  # 10.24M values > 2M in tests
    problem = assert_problem(client.post(f"{API}/datasets", json=body), 413)
    assert problem["setting"] == "SYNTHTS_MAX_GENERATE_VALUES"
    assert "SYNTHTS_MAX_GENERATE_VALUES" in problem["detail"]
    assert_problem(client.get(f"{API}/datasets/huge"), 404)  # nothing half-written


def test_request_body_limit_names_the_setting(client):
    big = b"0" * (4 * 1024 * 1024 + 10)
    r = client.post(f"{API}/datasets/upload", params={"name": "big", "format": "npy"},
                    content=big, headers={"Content-Type": "application/x-npy"})
    problem = assert_problem(r, 413)
    assert problem["setting"] == "SYNTHTS_MAX_REQUEST_BYTES"


def test_upload_npy_json_and_csv(client):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(6, 2, 20)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, values)
    r = client.post(f"{API}/datasets/upload", params={"name": "up-npy"}, content=buf.getvalue(),
                    headers={"Content-Type": "application/x-npy"})
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "imported" and r.json()["n_channels"] == 2
    back = client.get(f"{API}/datasets/up-npy/values", params={"format": "npy"})
    # stored z-scored (the default, as in `synthts import`), read back in the units uploaded
    np.testing.assert_allclose(np.load(io.BytesIO(back.content)), values, rtol=1e-5, atol=1e-6)

    doc = {"values": values[:, 0].tolist(), "labels": ["x", "y", "x", "y", "x", "y"]}
    r = client.post(f"{API}/datasets/upload", params={"name": "up-json", "normalise": "zscore"},
                    json=doc)
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["label_names"] == ["x", "y"] and meta["normalisation"]["method"] == "zscore"
    assert meta["n_missing"] == 0 and meta["missing_share"] == 0.0

    # null is a missing point: stored as NaN, read back as null (JSON) and NaN (.npy)
    holes = values[:, 0].astype(np.float64)
    holes[1, 3:7] = np.nan
    holes[4, 0] = np.nan
    sent = np.where(np.isnan(holes), None, holes).tolist()
    r = client.post(f"{API}/datasets/upload", params={"name": "up-null"},
                    json={"values": sent, "labels": doc["labels"]})
    assert r.status_code == 201, r.text
    assert r.json()["n_missing"] == 5 and r.json()["missing_share"] == 5 / holes.size
    got = client.get(f"{API}/datasets/up-null/values", params={"format": "json"}).json()
    assert [row[0] for row in got["values"]] == sent
    back = np.load(io.BytesIO(client.get(f"{API}/datasets/up-null/values",
                                         params={"format": "npy"}).content))
    np.testing.assert_array_equal(back[:, 0], holes.astype(np.float32))  # NaN where null was
    normalised = client.get(f"{API}/datasets/up-null/values",  # still missing, not filled
                            params={"format": "json", "units": "normalised"}).json()
    assert [[v is None for v in row[0]] for row in normalised["values"]] == \
        [[v is None for v in row] for row in sent]
    figure = client.get(f"{API}/datasets/up-null/figure", params={"format": "html"})
    assert figure.status_code == 200
    for bad, why in (({"values": [[1.0, 2.0], [None, None]]}, "has no observed point"),
                     ({"values": [[1.0, 1e999]]}, "is infinite")):
        body = assert_problem(client.post(f"{API}/datasets/upload", params={"name": "bad"},
                                          content=json.dumps(bad).replace("Infinity", "1e999")
                                          .encode(), headers={"Content-Type":
                                                              "application/json"}),
                              422, "values")
        assert why in body["detail"], body

    ragged = {"values": [[1.0, 2.0], [3.0]]}  # series of different lengths: stored as they are
    r = client.post(f"{API}/datasets/upload", params={"name": "rag"}, json=ragged)
    assert r.status_code == 201 and r.json()["min_length"] == 1, r.text
    back = client.get(f"{API}/datasets/rag/values", params={"format": "json"}).json()
    assert back["values"] == [[[1.0, 2.0]], [[3.0]]] and back["lengths"] == [2, 1]
    bad = {"values": [[[1.0, 2.0], [3.0]]]}  # but the channels of one series have one length
    assert_problem(client.post(f"{API}/datasets/upload", params={"name": "rag2"}, json=bad),
                   422, "values")
    assert_problem(client.post(f"{API}/datasets/upload", params={"name": "pickle"},
                               content=b"\x93NUMPY garbage",
                               headers={"Content-Type": "application/x-npy"}), 422, "body")
    assert_problem(client.post(f"{API}/datasets/upload", params={"name": "what"},
                               content=b"1,2", headers={"Content-Type": "text/plain"}), 422,
                   "format")

    t = np.arange(40)
    csv = "a,b,label\n" + "\n".join(f"{np.sin(i)},{np.cos(i)},{'lo' if i < 20 else 'hi'}"
                                    for i in t)
    r = client.post(f"{API}/datasets/upload",
                    params={"name": "up-csv", "label_column": "label", "window": 10},
                    content=csv.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["length"] == 10 and meta["n_channels"] == 2 and meta["n_series"] >= 3


def test_upload_keeps_a_held_out_split_out_of_training(client):
    """``holdout`` (a stratified fraction) or ``holdout_from`` (a TRAIN and a TEST set sent as
    one body) is recorded with the dataset and shown on every read of its metadata."""
    rng = np.random.default_rng(1)
    doc = {"values": rng.normal(size=(20, 16)).tolist(), "labels": ["a", "b"] * 10}
    r = client.post(f"{API}/datasets/upload",
                    params={"name": "up-split", "holdout": 0.2, "holdout_seed": 5}, json=doc)
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["n_series"] == 20 and meta["n_holdout"] == 4
    assert meta["holdout"]["how"] == "fraction" and meta["holdout"]["seed"] == 5
    assert client.get(f"{API}/datasets/up-split").json()["holdout"] == meta["holdout"]
    r = client.post(f"{API}/datasets/upload", params={"name": "up-test", "holdout_from": 15},
                    json=doc)
    assert r.status_code == 201, r.text
    assert r.json()["holdout"]["series"] == [15, 16, 17, 18, 19]
    assert client.get(f"{API}/datasets/up-test/values",
                      params={"limit": 100}).json()["shape"] == [20, 1, 16]  # all of them
    assert_problem(client.post(f"{API}/datasets/upload", params={"name": "x", "holdout": 1.5},
                               json=doc), 422, "holdout")
    assert_problem(client.post(f"{API}/datasets/upload", params={"name": "x",
                               "holdout_from": 20}, json=doc), 422, "holdout_from")
    no_split = client.post(f"{API}/datasets/upload", params={"name": "up-none"}, json=doc)
    assert no_split.json()["n_holdout"] == 0 and no_split.json()["holdout"] is None
