"""Hostile and malformed input found by hand against ``synthts serve`` (issue 13): each test
sends what broke the server and checks the answer is a problem naming the field, never a 500,
a dropped connection or a broken listing afterwards."""

from __future__ import annotations

import json
import sqlite3

import pytest

from synthts_core.domain import check_name
from synthts_core.errors import BadInputError
from tests.api.conftest import SMALL_HARMONICS, assert_problem, register_untrained

API = "/api/v1"


@pytest.fixture(scope="module")
def model(app, client):
    r = client.post(f"{API}/datasets", json={"name": "hostile", **SMALL_HARMONICS})
    assert r.status_code == 201, r.text
    meta = app.state.api.runtime.storage.get_dataset_meta("hostile")
    ref = register_untrained(app.state.api.runtime, "hostile-gan", meta, latent_dim=8)
    return {"url": f"{API}/models/hostile-gan/versions/{ref.version}", "labels": meta.label_names}


# ------------------------------------------------------------------------- names (item 2)


@pytest.mark.parametrize("name", ["nl\n", "nl\r\n", "a\nb", "x" * 129, "-x", "é", ""])
def test_check_name_is_a_full_match(name):
    with pytest.raises(BadInputError):
        check_name(name)


def test_a_name_ending_in_a_newline_is_refused_everywhere(client):
    assert_problem(client.post(f"{API}/datasets", json={"name": "nl\n", **SMALL_HARMONICS}),
                   422, "name")
    r = client.post(f"{API}/datasets/upload", params={"name": "nl\n", "format": "json"},
                    content=b'{"values": [[1, 2, 3]]}',
                    headers={"Content-Type": "application/json"})
    assert_problem(r, 422, "name")
    assert client.get(f"{API}/datasets", params={"name_contains": "nl"}).json()["items"] == []
    assert_problem(client.get(f"{API}/models/nl%0A"), 422, "name")
    assert_problem(client.post(f"{API}/models/nl%0A/versions/1/generate", json={"n": 1}), 422,
                   "name")
    job = {"dataset": "hostile", "model_name": "m\n"}
    assert_problem(client.post(f"{API}/jobs", json=job), 422, "model_name")


def test_headers_built_from_names_are_safe():
    from synthts_core.api.encoding import attachment, location

    for hostile in ("a\r\nSet-Cookie: x=1", 'q"uote', "ü/..\\"):
        for header in (location("/api/v1/datasets", hostile), attachment(hostile + ".csv")):
            assert header.isascii() and not any(c in header for c in "\r\n\0")
    assert attachment('q"uote.csv').startswith('attachment; filename="q_uote.csv"')


def test_location_and_export_headers(client):
    r = client.post(f"{API}/datasets", json={"name": "hdr.x_y-1", **SMALL_HARMONICS})
    assert r.headers["location"] == f"{API}/datasets/hdr.x_y-1"
    export = client.get(f"{API}/datasets/hdr.x_y-1/export", params={"format": "npy"})
    assert export.headers["content-disposition"].startswith(
        'attachment; filename="hdr.x_y-1.npy"')


# ---------------------------------------------------------------- cross-site writes (item 3)


@pytest.mark.parametrize("origin", ["http://127.evil.example", "http://127.0.0.1.evil.example",
                                    "http://[::1].evil.example", "http://localhost.evil.example",
                                    "http://user@127.0.0.1", "null", "file://"])
def test_origins_that_only_look_like_loopback_are_refused(client, origin):
    r = client.post(f"{API}/datasets", json={"name": "xsite", **SMALL_HARMONICS},
                    headers={"Origin": origin})
    assert "origin" in assert_problem(r, 403)["detail"]


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8000", "http://localhost:3000",
                                    "http://[::1]:8000"])
def test_loopback_origins_may_write(client, origin):
    r = client.post(f"{API}/signals/preview", json={"signal": {"generator": "sinusoidal"}},
                    headers={"Origin": origin})
    assert r.status_code == 200, r.text


def test_json_routes_refuse_bodies_a_browser_sends_without_preflight(client):
    body = json.dumps({"name": "plain", **SMALL_HARMONICS})
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": content_type} if content_type else {}
        r = client.post(f"{API}/datasets", content=body, headers=headers)
        assert "Content-Type: application/json" in assert_problem(r, 415)["detail"]
    assert client.get(f"{API}/datasets/plain").status_code == 404
    r = client.post(f"{API}/datasets", content=body,
                    headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text


# ------------------------------------------------------------------ nesting/size (item 4)


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_deeply_nested_free_form_fields_are_client_errors(client):
    deep = _nested(2000)
    job = '{"dataset": "hostile", "search_space": {"lr": ' + deep + "}}"
    preview = '{"signal": {"generator": "sinusoidal", "params": {"amplitude": ' + deep + "}}}"
    for url, body in ((f"{API}/jobs", job), (f"{API}/signals/preview", preview)):
        r = client.post(url, content=body, headers={"Content-Type": "application/json"})
        assert "nested" in assert_problem(r, 400)["detail"]
    shallow = {"signal": {"generator": "sinusoidal", "params": {"amplitude": json.loads(
        _nested(20))}}}
    assert "nested" in assert_problem(client.post(f"{API}/signals/preview", json=shallow),
                                      422, "params")["detail"]
    wide = {"dataset": "hostile", "search_space": {"lr": {"choices": list(range(20_000))}}}
    assert_problem(client.post(f"{API}/jobs", json=wide), 422, "search_space")
    many = {"dataset": "hostile", "search_space": {f"k{i}": 1 for i in range(300)}}
    assert_problem(client.post(f"{API}/jobs", json=many), 422, "search_space")


# ------------------------------------------------------------------------ counts (item 5)


def test_a_zero_count_means_none_of_that_label(client, model):
    first, second = model["labels"][:2]
    r = client.post(model["url"] + "/generate", json={"counts": {first: 0, second: 3},
                                                      "seed": 2})
    assert r.status_code == 200, r.text
    assert r.json()["shape"][0] == 3 and r.json()["labels"] == [1, 1, 1]
    none = client.post(model["url"] + "/generate", json={"counts": {first: 0}})
    assert none.status_code == 200, none.text
    assert none.json()["shape"][0] == 0 and none.json()["values"] == []
    assert_problem(client.post(model["url"] + "/generate", json={"counts": {first: -1}}), 422,
                   "counts")
    assert_problem(client.post(model["url"] + "/generate", json={"counts": {"nope": 0}}), 422,
                   "labels")


# ---------------------------------------------------------------------- preview (item 6)


def test_preview_refuses_what_dataset_creation_refuses(client):
    params = {"tau": 1000, "beta": 100, "gamma": 100, "burn_in": 0}
    signal = {"generator": "mackey_glass", "params": params}
    preview = client.post(f"{API}/signals/preview", json={"signal": signal, "length": 64})
    assert "finite" in assert_problem(preview, 422, "signal.params")["allowed"]
    spec = {"length": 64, "classes": [{"label": "a", "count": 2, "signal": signal}]}
    assert_problem(client.post(f"{API}/datasets", json={"name": "mg", "spec": spec}), 422)
    assert "null" not in preview.text


def test_preview_obeys_the_generation_limit(tmp_path):
    from litestar.testing import TestClient

    from synthts_core.api import create_app
    from tests.api.conftest import api_settings

    app = create_app(api_settings(tmp_path / "d", max_generate_values=1000))
    with TestClient(app) as c:
        r = c.post(f"{API}/signals/preview", json={"signal": {"generator": "sinusoidal"},
                                                   "n": 8, "length": 256})
        assert assert_problem(r, 413)["setting"] == "SYNTHTS_MAX_GENERATE_VALUES"


# ------------------------------------------------------------------ strict types (item 7)


@pytest.mark.parametrize(("field", "body"), [
    ("overrides.count", {"name": "loose", "preset": "harmonics10", "overrides": {"count": "5"}}),
    ("overrides.count", {"name": "loose", "preset": "harmonics10", "overrides": {"count": True}}),
    ("spec.length", {"name": "loose", "spec": {"length": "64", "classes": []}}),
])
def test_strings_and_booleans_are_not_integers_for_datasets(client, field, body):
    assert_problem(client.post(f"{API}/datasets", json=body), 422, field)


def test_strings_are_not_integers_for_generation(client, model):
    assert_problem(client.post(model["url"] + "/generate", json={"n": "5"}), 422, "n")
    assert_problem(client.post(model["url"] + "/generate", json={"n": 1.5}), 422, "n")
    assert_problem(client.post(model["url"] + "/interpolate", json={"steps": "5"}), 422,
                   "steps")
    assert_problem(client.post(f"{API}/signals/preview",
                               json={"signal": {"generator": "sinusoidal"}, "n": "3"}), 422, "n")


# --------------------------------------------------------- unreadable records (item 1)


def test_non_finite_normalisation_is_refused_on_write(app):
    from synthts_core.domain import Dataset, Normalisation

    storage = app.state.api.runtime.storage
    for bad in ([float("inf")], [float("nan")], [0.0]):
        ds = Dataset.build("badnorm", [[[1.0, 2.0]]],
                           normalisation=Normalisation(method="zscore", offset=[0.0], scale=bad))
        with pytest.raises(BadInputError, match=r"normalisation\.scale"):
            storage.create_dataset(ds)


def test_huge_upload_values_cannot_break_the_listing(client):
    r = client.post(f"{API}/datasets/upload", params={"name": "huge", "normalise": "zscore"},
                    content=b'{"values": [[1e300, -1e300, 3]]}',
                    headers={"Content-Type": "application/json"})
    assert_problem(r, 422)
    assert client.get(f"{API}/datasets").status_code == 200
    assert client.get(f"{API}/info").json()["datasets"] is not None


def test_one_unreadable_record_is_that_rows_error(app, client, module_data_dir):
    client.post(f"{API}/datasets", json={"name": "broken", **SMALL_HARMONICS})
    with sqlite3.connect(module_data_dir / "synthts.db") as conn:  # what an old bug stored
        meta = json.loads(conn.execute("SELECT meta FROM datasets WHERE name = 'broken'")
                          .fetchone()[0])
        meta["normalisation"] = {"method": "zscore", "offset": [0.0], "scale": [None]}
        conn.execute("UPDATE datasets SET meta = ? WHERE name = 'broken'", (json.dumps(meta),))
    listing = client.get(f"{API}/datasets", params={"limit": 500})
    assert listing.status_code == 200, listing.text
    rows = {d["name"]: d for d in listing.json()["items"]}
    assert "cannot be read" in rows["broken"]["error"]
    assert rows["hostile"]["error"] is None and rows["hostile"]["n_series"] == 80
    assert client.get(f"{API}/info").json()["datasets"] == listing.json()["page"]["total"]
    single = assert_problem(client.get(f"{API}/datasets/broken"), 500)
    assert single["title"] == "Corrupt data" and "broken" in single["detail"]
    assert client.delete(f"{API}/datasets/broken").status_code == 204


def test_one_unreadable_job_is_listed_as_failed(app, client, module_data_dir):
    from synthts_core.domain import JobSpec, TrainingJob

    app.state.api.runtime.storage.create_job(TrainingJob(id="bad-job",
                                                         spec=JobSpec(dataset="hostile")))
    with sqlite3.connect(module_data_dir / "synthts.db") as conn:
        conn.execute("UPDATE jobs SET doc = '{\"id\": \"bad-job\"}' WHERE id = 'bad-job'")
    jobs = client.get(f"{API}/jobs")
    assert jobs.status_code == 200, jobs.text
    bad = next(j for j in jobs.json()["items"] if j["id"] == "bad-job")
    assert bad["status"] == "failed" and "cannot be read" in bad["errors"][0]
