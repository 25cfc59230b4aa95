"""Conformance suite for trackers (``register_trackers``): runs, metrics, the model registry.

Provide a ``tracker`` fixture returning a fresh tracker (an empty store)."""

from __future__ import annotations

import uuid

import pytest

from synthts_core.domain import ModelBundle
from synthts_core.errors import NotFoundError


def _bundle(tag: bytes, metric: float) -> ModelBundle:
    config = {"architecture": "tiny", "length": 8, "n_channels": 1, "label_names": ["a", "b"],
              "dataset": {"name": "toy", "checksum": "sha256:00"}}
    return ModelBundle(config=config, weights=b"weights-" + tag, metrics={"mmd": metric})


class TrackerConformance:
    def _name(self) -> str:
        return f"conformance-{uuid.uuid4().hex[:8]}"

    def test_ping(self, tracker) -> None:
        tracker.ping()

    def test_run_keeps_params_and_metric_history(self, tracker) -> None:
        run_id = tracker.start_run("conformance", "trial-0", {"lr": 0.001, "arch": "tiny"},
                                   {"job": "j1"})
        for step in range(3):
            tracker.log_metrics(run_id, {"mmd": 1.0 / (step + 1), "loss": float(step)}, step)
        tracker.log_artifact(run_id, "notes.txt", b"hello")
        tracker.end_run(run_id, "FINISHED")
        history = tracker.run_history(run_id)
        assert [s for s, _ in history["mmd"]] == [0, 1, 2]
        assert [round(v, 6) for _, v in history["mmd"]] == [1.0, 0.5, round(1 / 3, 6)]

    def test_versions_aliases_and_bundles(self, tracker) -> None:
        name = self._name()
        first = tracker.register_model(name, _bundle(b"1", 0.3), aliases=["best"])
        second = tracker.register_model(name, _bundle(b"2", 0.1))
        assert first.version != second.version
        assert [v.version for v in tracker.list_versions(name)] == [first.version, second.version]
        assert name in [m.name for m in tracker.list_models()]
        assert tracker.get_version(name, "best").version == first.version
        assert tracker.get_version(name, second.version).version == second.version
        assert tracker.get_version(name, "latest").version == second.version
        tracker.set_alias(name, "best", second.version)
        assert tracker.get_version(name, "best").version == second.version
        bundle = tracker.load_bundle(name, first.version)
        assert bundle.weights == b"weights-1"
        assert bundle.config["architecture"] == "tiny"
        assert bundle.config["label_names"] == ["a", "b"]

    def test_evaluation_is_logged_with_the_version(self, tracker) -> None:
        name = self._name()
        ref = tracker.register_model(name, _bundle(b"1", 0.3))
        tracker.log_evaluation(name, ref.version, {"dataset": "toy", "metrics": [
            {"name": "mmd", "value": 0.2, "per_class": {}}]})

    def test_unknown_names_are_not_found(self, tracker) -> None:
        with pytest.raises(NotFoundError):
            tracker.get_version(self._name(), "1")
        name = self._name()
        tracker.register_model(name, _bundle(b"1", 0.3))
        with pytest.raises(NotFoundError):
            tracker.get_version(name, "no-such-alias")
        with pytest.raises(NotFoundError):
            tracker.load_bundle(name, "99")
