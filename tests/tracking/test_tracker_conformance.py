"""The tracker conformance suite on the MLflow plugin: embedded SQLite store and a real
`mlflow server` on loopback (the ``store`` fixture runs both)."""

from __future__ import annotations

import json

import pytest

from synthts_core.runtime import Runtime
from synthts_core.testing.conformance.trackers import TrackerConformance


class TestMlflowTrackerConformance(TrackerConformance):
    @pytest.fixture
    def tracker(self, tracker_settings):
        rt = Runtime(tracker_settings)
        yield rt.tracker
        rt.close()

    def metric_history(self, tracker, run_id: str) -> dict[str, list[tuple[int, float]]]:
        return tracker.run_history(run_id)

    def dataset_inputs(self, tracker, run_id: str) -> list[tuple[str, str]]:
        """MLflow keeps a digest of 36 characters; the whole checksum is in the source."""
        inputs = tracker.client.get_run(run_id).inputs.dataset_inputs
        return [(d.dataset.name, json.loads(d.dataset.source)["checksum"]) for d in inputs]
