"""The tracker conformance suite on the MLflow plugin: embedded SQLite store and a real
`mlflow server` on loopback (the ``store`` fixture runs both)."""

from __future__ import annotations

import pytest

from synthts_core.runtime import Runtime
from synthts_core.testing.conformance.trackers import TrackerConformance


class TestMlflowTrackerConformance(TrackerConformance):
    @pytest.fixture
    def tracker(self, tracker_settings):
        rt = Runtime(tracker_settings)
        yield rt.tracker
        rt.close()
