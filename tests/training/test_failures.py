"""Failure paths: a trial that raises inside its worker, bad job specs, cancellation."""

from __future__ import annotations

import time
import uuid

import pytest

from synthts_core.domain import TrainingJob
from synthts_core.errors import BadInputError, ConflictError, NotFoundError
from synthts_core.services import training

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _stored_unchecked(rt, spec):
    """The job as submit_job stores it, without the architectures' pre-flight ``check``: what
    a job stored by an earlier version, or trials of a plugin that declares no check, run
    into. (submit_job itself refuses these configurations: test_plugin_defaults.py.)"""
    spec = training.resolve_defaults(rt, spec)
    training.validate_spec(rt, spec)
    return rt.storage.create_job(TrainingJob(id=training.new_job_id(), spec=spec,
                                             trials=training.draw_trials(rt, spec)))


def test_a_trial_that_raises_is_reported_and_the_best_of_the_rest_registered(
        rt_server, server_dataset, tiny_spec) -> None:
    """Against a real MLflow server on loopback. conv_layers=4 needs series of >= 64 points;
    tiny has 32, so those trials fail when their model is built inside the Ray worker."""
    rt = rt_server
    name = f"fail-gan-{uuid.uuid4().hex[:8]}"  # the server outlives this test
    spec = tiny_spec(search_space={**tiny_spec().search_space, "backbone": "conv",
                                   "conv_layers": [2, 4]}, seed=1, model_name=name)
    with pytest.raises(BadInputError, match=r"search_space\.conv_layers"):
        training.submit_job(rt, spec)
    job = _stored_unchecked(rt, spec)
    layers = [t.config["conv_layers"] for t in job.trials]
    assert 2 in layers and 4 in layers, "the drawn trials must mix both values"
    done = training.run_job(rt, job.id)
    assert done.status == "succeeded"
    failed = [t for t in done.trials if t.status == "failed"]
    assert {t.trial_id for t in failed} == {t.trial_id for t in job.trials
                                           if t.config["conv_layers"] == 4}
    assert all("needs length >= 64" in t.error for t in failed), [t.error for t in failed]
    assert all(any(t.trial_id in e and "needs length >= 64" in e for e in done.errors)
               for t in failed)
    best = next(t for t in done.trials if t.trial_id == done.best_trial)
    assert best.status == "succeeded" and best.config["conv_layers"] == 2
    assert done.model is not None and done.model.name == name
    assert rt.tracker.get_version(name, "best").version == done.model.version
    for t in done.trials:  # every trial that ran is a run on the server
        if t.status == "succeeded":
            assert [s for s, _ in rt.tracker.run_history(t.run_id)["mmd"]] == [1, 2]


def test_every_trial_failing_fails_the_job_with_the_errors(rt, dataset, tiny_spec) -> None:
    spec = tiny_spec(num_trials=1, architectures=["cwgan_gp"], epochs=1,
                     search_space={**tiny_spec().search_space, "backbone": "conv",
                                   "conv_layers": 5})
    done = training.run_job(rt, _stored_unchecked(rt, spec).id)
    assert done.status == "failed" and done.model is None
    assert done.trials[0].status == "failed"
    assert any("needs length >= 128" in e for e in done.errors)


@pytest.mark.parametrize(("changes", "field"), [
    ({"dataset": "nope"}, "nope"),
    ({"labels": ["slow", "medium"]}, "labels"),
    ({"architectures": ["cgan", "vae"]}, "architectures[1]"),
    ({"architectures": []}, "architectures"),
    ({"search_space": {"n_critic": 0}}, "search_space.n_critic"),
    ({"search_space": {"lr": {"low": 1e-4, "high": 5.0}}}, "search_space.lr"),
    ({"search_space": {"lr": {"low": 1e-3, "high": 1e-4}}}, "search_space.lr"),
    ({"search_space": {"backbone": ["mlp", "transformer"]}}, "search_space.backbone"),
    ({"search_space": {"momentum": 0.9}}, "search_space.momentum"),
    ({"num_trials": 0}, "num_trials"),
    ({"epochs": -1}, "epochs"),
    ({"select_metric": "accuracy"}, "select_metric"),
    ({"model_name": "bad name!"}, "model_name"),
])
def test_bad_job_specs_are_rejected_naming_the_field(rt, dataset, tiny_spec, changes,
                                                     field) -> None:
    with pytest.raises((BadInputError, NotFoundError)) as info:
        training.submit_job(rt, tiny_spec(**changes))
    assert field in str(info.value)
    assert rt.storage.list_jobs().total == 0  # nothing half-written


def test_cancel_stops_a_running_job_at_the_next_epoch(rt, dataset, tiny_spec) -> None:
    job = training.submit_job(rt, tiny_spec(num_trials=1, epochs=200))
    thread = training.start_job_in_background(rt, job.id)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(t.epoch >= 1 for t in rt.storage.get_job(job.id).trials):
            break
        time.sleep(0.2)
    assert training.cancel_job(rt, job.id).status == "cancelling"
    thread.join(timeout=120)
    assert not thread.is_alive()
    done = rt.storage.get_job(job.id)
    assert done.status == "cancelled" and done.model is None
    assert all(t.epoch < 200 for t in done.trials)
    with pytest.raises(ConflictError, match="already cancelled"):
        training.cancel_job(rt, job.id)


def test_a_queued_job_cancels_at_once(rt, dataset, tiny_spec) -> None:
    job = training.submit_job(rt, tiny_spec())
    assert training.cancel_job(rt, job.id).status == "cancelled"
    with pytest.raises(ConflictError):
        training.run_job(rt, job.id)
