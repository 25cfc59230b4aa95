"""Uploads over HTTP: the same import as the CLI, hostile values refused with a 4xx naming the
field (non-finite normalisation, deep nesting, booleans), a values limit checked before
decoding, dry runs, and values read back in the units uploaded."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from synthts_core.api import create_app
from tests.api.conftest import api_settings, assert_problem, register_untrained

API = "/api/v1"
LIMIT = 50_000


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    return create_app(api_settings(tmp_path_factory.mktemp("uploads"), max_generate_values=LIMIT))


@pytest.fixture(scope="module")
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as c:
        yield c


def upload(client, name: str, body: bytes, media: str, **params):
    return client.post(f"{API}/datasets/upload", params={"name": name, **params}, content=body,
                       headers={"Content-Type": media})


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_values_float32_cannot_hold_are_refused_and_listing_survives(client) -> None:
    """Values are stored as float32 exactly as given, whatever the normalisation: one too
    large for float32 is refused, naming it, before any normalisation is fitted."""
    huge = json.dumps({"values": [[1e300, -1e300, 3.0]]}).encode()
    for normalise in ("zscore", "minmax", "none"):
        body = assert_problem(upload(client, "inf", huge, "application/json",
                                     normalise=normalise), 422, "values")
        assert "outside float32's range" in body["detail"]
    assert_problem(upload(client, "inf", npy(np.array([[1e300, -1e300, 3.0]])),
                          "application/x-npy"), 422, "values")
    csv = b"a\n1e300\n-1e300\n3\n4\n"
    assert_problem(upload(client, "inf", csv, "text/csv", window=2), 422, "values")
    assert client.get(f"{API}/datasets").status_code == 200
    assert_problem(client.get(f"{API}/datasets/inf"), 404)  # nothing stored


@pytest.mark.parametrize("doc", [
    b'{"values": ' + b"[" * 2000 + b"1" + b"]" * 2000 + b"}",
    b'{"values": [[1, 2]], "labels": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    b'{"values": [[1, 2]], "description": {"a": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
    b"[" * 5000 + b"]" * 5000,
])
def test_deeply_nested_json_is_a_4xx_not_a_recursion_error(client, doc: bytes) -> None:
    r = upload(client, "deep", doc, "application/json")
    assert r.status_code in (400, 422), r.text
    assert_problem(r, r.status_code)


@pytest.mark.parametrize("body, media, field", [
    (b'{"values": [[true, false, true]]}', "application/json", "values"),
    (b'{"values": [[1, 2], [3, 4]], "labels": [true, false]}', "application/json", "labels"),
    (b'[{"a": true}, {"a": false}, {"a": true}]', "application/json", None),
    (b'{"values": [[null, null]]}', "application/json", "values"),  # nothing observed
    (b'{"values": [["1", "2"]]}', "application/json", "values"),
    (b'{"values": [[NaN, 1.0]]}', "application/json", "body"),
])
def test_booleans_null_and_strings_are_not_numbers(client, body: bytes, media: str,
                                                   field: str | None) -> None:
    assert_problem(upload(client, "loose", body, media, window=2) if field is None
                   else upload(client, "loose", body, media), 422, field)


def test_boolean_npy_and_boolean_csv_columns_are_refused(client) -> None:
    assert_problem(upload(client, "b", npy(np.array([[True, False, True]])),
                          "application/x-npy"), 422, "body")
    csv = b"a,b\ntrue,1\nfalse,2\ntrue,3\n"
    body = assert_problem(upload(client, "b", csv, "text/csv", window=2, columns=["a", "b"]),
                          422, "columns")
    assert "'a' is not numeric" in body["detail"]


def test_uploads_obey_the_values_limit_before_decoding(client) -> None:
    over = LIMIT + 1
    text = json.dumps({"values": [list(range(over))]}).encode()
    problem = assert_problem(upload(client, "big", text, "application/json"), 413)
    assert problem["setting"] == "SYNTHTS_MAX_GENERATE_VALUES"
    problem = assert_problem(upload(client, "big", npy(np.zeros((over,), np.float32)),
                                    "application/x-npy"), 413)
    assert problem["setting"] == "SYNTHTS_MAX_GENERATE_VALUES"
    ts = b"@classLabel false\n@data\n" + b"\n".join([b",".join([b"1"] * 1000)] * 60)
    assert_problem(upload(client, "big", ts, "text/x-ts"), 413)
    ok = upload(client, "just-fits", json.dumps({"values": [list(range(LIMIT))]}).encode(),
                "application/json")
    assert ok.status_code == 201, ok.text


def test_json_values_decode_without_python_floats() -> None:
    """Short numbers, as in a 64 MiB upload of 16.8M values: the NumPy path must need far
    less memory than json.loads' Python list of floats."""
    from synthts_core.services.importing.jsonvalues import parse_number_array

    values = np.round(np.random.default_rng(0).uniform(0, 1, size=(100, 2, 2000)), 2)
    raw = json.dumps(values.tolist()).encode()

    def peak(fn):
        tracemalloc.start()
        try:
            out = fn()
            return out, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    out, ours = peak(lambda: parse_number_array(raw))
    _, lists = peak(lambda: np.asarray(json.loads(raw), dtype=np.float64))
    np.testing.assert_array_equal(out, values)
    assert ours < 0.5 * lists, (ours, lists)


def test_dry_run_reports_and_stores_nothing(client) -> None:
    csv = "rec,t,v,label\n" + "\n".join(f"{i // 20},{i % 20},{np.sin(i)},{'a' if i < 40 else 'b'}"
                                         for i in range(85))
    r = upload(client, "dry", csv.encode(), "text/csv", series_column="rec", time_column="t",
               label_column="label", window=10, stride=10, dry_run="true")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["n_series"] == 8 and report["n_channels"] == 1 and report["length"] == 10
    assert report["label_names"] == ["a", "b"] and report["label_counts"] == [4, 4]
    assert report["dropped"] == [{"why": "1 run(s) of one recording and label shorter than "
                                  "the window (10)", "rows": 5}]
    assert_problem(client.get(f"{API}/datasets/dry"), 404)


def test_same_defaults_as_the_cli_and_values_in_real_units(client, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    real = rng.normal(size=(40, 2, 32)) * np.array([7.07, 0.1])[None, :, None] + \
        np.array([2.55, 100.0])[None, :, None]
    labels = ["10", "2", "1", "2"] * 10
    doc = json.dumps({"values": real.tolist(), "labels": labels}).encode()
    r = upload(client, "units", doc, "application/json")
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["normalisation"]["method"] == "zscore"  # as `synthts import`
    assert meta["label_names"] == ["1", "2", "10"]  # natural order, as `synthts import`

    from synthts_core.services.importing import ImportOptions, import_data

    cli_side = import_data(doc, ImportOptions(name="units", format="json")).dataset
    assert cli_side.meta.checksum == meta["checksum"]

    got = client.get(f"{API}/datasets/units/values", params={"limit": 100}).json()
    values = np.asarray(got["values"])
    npy_back = np.load(io.BytesIO(client.get(f"{API}/datasets/units/values",
                                             params={"limit": 100, "format": "npy"}).content))
    stored = np.load(io.BytesIO(client.get(f"{API}/datasets/units/values", params={
        "limit": 100, "format": "npy", "units": "normalised"}).content))
    for c in range(2):
        for arr in (values, npy_back):
            assert arr[:, c].mean() == pytest.approx(real[:, c].mean(), rel=1e-4)
            assert arr[:, c].std() == pytest.approx(real[:, c].std(), rel=1e-4)
        assert abs(stored[:, c].mean()) < 1e-4 and stored[:, c].std() == pytest.approx(1, 1e-4)
    export = client.get(f"{API}/datasets/units/export", params={"format": "npz"})
    with np.load(io.BytesIO(export.content)) as npz:
        np.testing.assert_allclose(npz["values"], real, rtol=1e-5, atol=1e-4)
        assert npz["label_names"].tolist() == ["1", "2", "10"]
    again = upload(client, "units-again", export.content, "application/x-npz")
    assert again.status_code == 201, again.text
    assert again.json()["label_counts"] == meta["label_counts"]
    twice = np.load(io.BytesIO(client.get(f"{API}/datasets/units-again/values", params={
        "limit": 100, "format": "npy", "units": "normalised"}).content))
    np.testing.assert_allclose(twice, stored, atol=1e-5)


def test_generation_answers_in_real_units(client, app: Litestar) -> None:
    real = np.random.default_rng(5).normal(size=(12, 1, 16)) * 7.07 + 2.55
    r = upload(client, "gen-src", json.dumps({"values": real.tolist(),
                                              "labels": ["1", "2"] * 6}).encode(),
               "application/json")
    assert r.status_code == 201, r.text
    runtime = app.state.api.runtime
    register_untrained(runtime, "units-gan", runtime.storage.get_dataset_meta("gen-src"))
    url = f"{API}/models/units-gan/versions/1/generate"
    body = {"counts": {"1": 3, "#1": 2}, "seed": 1}
    as_real = client.post(url, json=body)
    as_stored = client.post(url, json=body, params={"units": "normalised"})
    assert as_real.status_code == 200, as_real.text
    assert as_real.json()["labels"] == [0, 0, 0, 1, 1]
    norm = r.json()["normalisation"]
    np.testing.assert_allclose(np.asarray(as_real.json()["values"]),
                               np.asarray(as_stored.json()["values"]) * norm["scale"][0]
                               + norm["offset"][0], rtol=1e-5, atol=1e-4)
    bad = client.post(url, json={"labels": ["0"], "n": 1})  # "0" is neither a name nor #0
    assert_problem(bad, 422, "labels")


def test_json_labels_are_indices_only_with_label_names(client) -> None:
    values = [[0.0, 1.0, 2.0]] * 3
    with_names = upload(client, "idx", json.dumps({
        "values": values, "labels": [1, 0, 1], "label_names": ["sine", "square", "saw"]}
    ).encode(), "application/json")
    assert with_names.status_code == 201, with_names.text
    assert with_names.json()["label_names"] == ["sine", "square", "saw"]
    assert with_names.json()["label_counts"] == [1, 2, 0]
    as_values = upload(client, "vals", json.dumps({"values": values, "labels": [10, 2, 10]}
                                                  ).encode(), "application/json")
    assert as_values.json()["label_names"] == ["2", "10"]
    assert as_values.json()["label_counts"] == [1, 2]
    assert_problem(upload(client, "bad", json.dumps({
        "values": values, "labels": [0, 3, 0], "label_names": ["a"]}).encode(),
        "application/json"), 422, "labels")
