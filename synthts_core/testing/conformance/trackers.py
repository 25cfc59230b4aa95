"""Conformance suite for trackers (``register_trackers``): runs, metrics, the model registry.

Provide a ``tracker`` fixture returning a fresh tracker (an empty store), and implement
``metric_history`` and ``dataset_inputs``: how the test reads back what a run stored. The core
never reads runs back, so those readers are not part of the ``Tracker`` protocol; without
them the suite could not tell a tracker that drops what it is given from one that keeps it."""

from __future__ import annotations

import uuid

import pytest

from synthts_core.domain import ModelBundle
from synthts_core.errors import BadInputError, NotFoundError


def _bundle(tag: bytes, metric: float) -> ModelBundle:
    config = {"architecture": "tiny", "length": 8, "n_channels": 1, "label_names": ["a", "b"],
              "dataset": {"name": "toy", "checksum": "sha256:00"}}
    return ModelBundle(config=config, weights=b"weights-" + tag, metrics={"mmd": metric})


class TrackerConformance:
    def metric_history(self, tracker, run_id: str) -> dict[str, list[tuple[int, float]]]:
        """Every metric of the run as (step, value) pairs in step order."""
        raise NotImplementedError("a tracker's conformance test reads its runs' metrics back")

    def dataset_inputs(self, tracker, run_id: str) -> list[tuple[str, str]]:
        """The (name, checksum) of each dataset recorded as the run's input."""
        raise NotImplementedError("a tracker's conformance test reads its runs' inputs back")

    def _name(self) -> str:
        return f"conformance-{uuid.uuid4().hex[:8]}"

    def test_ping(self, tracker) -> None:
        tracker.ping()

    def test_has_every_method_of_the_protocol(self, tracker) -> None:
        from synthts_core.interfaces import Tracker

        assert isinstance(tracker, Tracker)

    def test_run_keeps_params_and_metric_history(self, tracker) -> None:
        run_id = tracker.start_run("conformance", "trial-0", {"lr": 0.001, "arch": "tiny"},
                                   {"job": "j1"})
        for step in range(3):
            tracker.log_metrics(run_id, {"mmd": 1.0 / (step + 1), "loss": float(step)}, step)
        tracker.end_run(run_id, "FINISHED")
        history = self.metric_history(tracker, run_id)
        assert [s for s, _ in history["mmd"]] == [0, 1, 2]
        assert [round(v, 6) for _, v in history["mmd"]] == [1.0, 0.5, round(1 / 3, 6)]

    def test_a_run_records_the_dataset_it_learned(self, tracker) -> None:
        run_id = tracker.start_run("conformance", "trial-0", {}, {"job": "j1"})
        digest = "sha256:" + "ab" * 32
        tracker.log_dataset_input(run_id, name="toy", checksum=digest, shape=(24, 1, 40))
        tracker.end_run(run_id, "FINISHED")
        assert self.dataset_inputs(tracker, run_id) == [("toy", digest)]
        other = tracker.start_run("conformance", "trial-1", {}, {"job": "j1"})
        tracker.end_run(other, "FINISHED")
        assert self.dataset_inputs(tracker, other) == []

    def test_end_open_runs_ends_only_the_matching_running_runs(self, tracker) -> None:
        experiment, other_experiment = self._name(), self._name()
        job = {"synthts.job": "job-a"}
        open_runs = [tracker.start_run(experiment, f"t{i}", {}, job) for i in range(2)]
        done = tracker.start_run(experiment, "t2", {}, job)
        tracker.end_run(done, "FINISHED")
        tracker.start_run(experiment, "t3", {}, {"synthts.job": "job-b"})
        tracker.start_run(other_experiment, "t4", {}, job)
        assert len(set(open_runs)) == 2
        assert tracker.end_open_runs(experiment, job, "KILLED") == 2
        assert tracker.end_open_runs(experiment, job, "KILLED") == 0  # they are ended now
        # the other job's run and the other experiment's run were left running
        assert tracker.end_open_runs(experiment, {"synthts.job": "job-b"}, "FAILED") == 1
        assert tracker.end_open_runs(other_experiment, job, "FAILED") == 1
        assert tracker.end_open_runs(self._name(), job, "FAILED") == 0  # no such experiment

    @pytest.mark.parametrize("call", ["end_run", "end_open_runs"])
    def test_an_unknown_run_status_names_the_field(self, tracker, call) -> None:
        experiment = self._name()
        run_id = tracker.start_run(experiment, "t0", {}, {"synthts.job": "job-a"})
        with pytest.raises(BadInputError) as info:
            if call == "end_run":
                tracker.end_run(run_id, "DONE")
            else:
                tracker.end_open_runs(experiment, {"synthts.job": "job-a"}, "DONE")
        assert info.value.field == "status"
        assert tracker.end_open_runs(experiment, {"synthts.job": "job-a"}, "KILLED") == 1

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
        third = tracker.register_model(name, _bundle(b"3", 0.05), aliases=["best"])
        assert tracker.get_version(name, "best").version == third.version  # the alias moved
        assert tracker.get_version(name, "latest").version == third.version
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
