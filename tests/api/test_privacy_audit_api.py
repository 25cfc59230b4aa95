"""The privacy audit over HTTP: the real app (uvicorn-free Litestar test client, embedded
SQLite and MLflow registry) with the installed plugins plus a model made to memorise
(tests/metrics/memoriser.py), registered through the real tracker. The evaluation response
carries the audit per class, worst first, and the TUI renders that response as it arrives."""

from __future__ import annotations

import numpy as np
import pytest
from litestar.testing import TestClient

from synthts_core.api import create_app
from synthts_core.domain import Dataset
from synthts_core.plugins import make_plugin_manager
from tests.api.conftest import api_settings
from tests.metrics.memoriser import MemoriserPlugin, harmonics, register_memoriser

API = "/api/v1"
AUDIT = ["mia", "nnaa", "memorisation"]


@pytest.fixture(scope="module")
def audit_client(tmp_path_factory):
    pm = make_plugin_manager(strict=True, disabled=[])
    pm.register(MemoriserPlugin(), name="memoriser")
    app = create_app(api_settings(tmp_path_factory.mktemp("synthts-privacy-api")),
                     plugin_manager=pm)
    with TestClient(app) as client:
        yield client


def test_the_evaluation_response_carries_the_audit_per_class_worst_first(audit_client):
    from synthts_tui.screens.evaluate import verdict_text

    client = audit_client
    runtime = client.app.state.api.runtime
    r = client.post(f"{API}/datasets", json={"name": "h20", "preset": "harmonics10",
                                             "overrides": {"count": 20, "length": 64}})
    assert r.status_code == 201, r.text
    register_memoriser(runtime, "memo", "h20")
    assert {"mia", "nnaa"} <= {m["name"] for m in client.get(f"{API}/metrics").json()["items"]}

    r = client.post(f"{API}/evaluations", json={"model": "memo", "version": "1",
                                                "dataset": "h20", "metrics": AUDIT,
                                                "n_per_label": 20, "seed": 1})
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["unseen"].startswith("200 freshly drawn series")
    verdict = report["verdict"]
    audit = verdict["privacy"]
    assert verdict["passed"] is False and "privacy audit fails 10 class(es)" in verdict["summary"]
    assert audit["metric"] == "mia" and audit["threshold"] == 0.55
    assert [g["metric"] for g in audit["guards"]] == ["nnaa", "memorisation"]
    assert len(audit["classes"]) == 10 and all(c["passed"] is False for c in audit["classes"])
    assert all(c["value"] >= 0.8 for c in audit["classes"])
    values = [c["value"] for c in audit["classes"]]
    assert values == sorted(values, reverse=True)  # worst first
    by = {m["name"]: m for m in report["metrics"]}
    assert by["mia"]["details"]["attack"].startswith("distance to the closest synthetic")
    assert by["nnaa"]["details"]["per_class_details"]["1Hz"]["aa_train"] < 0.1

    text = verdict_text(verdict).plain
    assert "privacy audit FAIL: 10 of 10 class(es) fail the privacy audit" in text
    lines = [line for line in text.splitlines() if line.startswith("  ") and " mia " in line]
    assert len(lines) == 10 and all("nnaa" in line and "fail" in line for line in lines)


def test_without_unseen_series_the_response_says_the_audit_cannot_be_computed(audit_client):
    from synthts_tui.screens.evaluate import verdict_text

    client = audit_client
    runtime = client.app.state.api.runtime
    data = harmonics(30, seed=5)
    runtime.services.datasets.store(Dataset.build("plain", data.values, data.labels,
                                                  list(data.meta.label_names),
                                                  source="imported"))
    register_memoriser(runtime, "memo-plain", "plain")
    r = client.post(f"{API}/evaluations", json={"model": "memo-plain", "dataset": "plain",
                                                "metrics": ["mia", "nnaa"], "n_per_label": 30})
    assert r.status_code == 201, r.text
    report = r.json()
    audit = report["verdict"]
    assert report["unseen"] == "" and audit["metric"] == "mia"
    assert audit["passed"] is None  # cannot vouch, failed nothing: inconclusive, not false
    assert audit["summary"].startswith("the privacy audit cannot be computed: no real series")
    assert all(c["passed"] is None and c["value"] is None and c["reason"]
               for c in audit["classes"])
    assert all(m["value"] is None or np.isnan(m["value"]) for m in report["metrics"])
    text = verdict_text(audit).plain
    assert text.startswith("INCONCLUSIVE: the privacy audit cannot be computed"), text
    assert "FAIL" not in text
