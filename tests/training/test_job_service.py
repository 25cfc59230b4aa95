"""The jobs service without a Ray run: crafted job records in the real SQLite storage.

Every front end resumes through ``JobService.resume``, which refuses a finished job and one with
a live owner before anything starts; the runner refuses a finished job on its own too (a resume
that raced a job to its end). The job form's bounds are declared once (``job_form``) and the
API struct, the CLI options, the service and the TUI form all take them from there."""

from __future__ import annotations

import os
from collections.abc import Iterator

import msgspec
import pytest
from click.testing import CliRunner

from synthts_core import job_form
from synthts_core.domain import JobSpec, TrainingJob, TrialState, utcnow
from synthts_core.errors import BadInputError, ConflictError
from synthts_core.runtime import Runtime
from synthts_core.services import leases, training
from synthts_core.settings import Settings

from .conftest import tiny_dataset


@pytest.fixture
def rt(synthts_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(synthts_settings)
    yield runtime
    runtime.close()


def _store(rt: Runtime, status: str, owner=None) -> TrainingJob:
    job = rt.storage.create_job(TrainingJob(id=f"job-svc-{os.urandom(4).hex()}",
                                            spec=JobSpec(dataset="nowhere")))
    return rt.storage.update_job(job.id, status=status, owner=owner, heartbeat_at=utcnow())


@pytest.mark.parametrize("status", ["succeeded", "cancelled"])
def test_a_finished_job_is_refused_by_every_way_to_resume_it(rt: Runtime, status: str) -> None:
    job = _store(rt, status)
    jobs = rt.services.jobs
    for wait in (True, False):
        with pytest.raises(ConflictError, match=f"is {status}; nothing to resume"):
            jobs.resume(job.id, wait=wait)
    # the runner itself, as a resume that passed the check just before the job ended reaches it
    with pytest.raises(ConflictError, match=f"is {status}; nothing to resume"):
        training.run_job(rt, job.id, resume=True)
    stored = rt.storage.get_job(job.id)
    assert stored.status == status and stored.owner is None


def test_a_job_with_a_live_owner_is_not_resumed(rt: Runtime) -> None:
    live = _store(rt, "running", leases.new_owner())
    for wait in (True, False):
        with pytest.raises(ConflictError, match=f"live process \\(pid {os.getpid()}"):
            rt.services.jobs.resume(live.id, wait=wait)
    assert rt.storage.get_job(live.id).owner == live.owner


def test_the_job_form_bounds_are_the_api_cli_service_and_tui_bounds(rt: Runtime) -> None:
    from synthts_tui.screens.train import JOB_SCHEMA

    from synthts_core.api.schemas.models import JobCreate
    from synthts_core.cli.commands.train import command as train

    api = msgspec.json.schema(JobCreate)["$defs"]["JobCreate"]["properties"]
    options = {p.name: p.type for p in train.params}
    tui = {f["name"]: f for f in JOB_SCHEMA}
    for p in job_form.JOB_FORM:
        low, high = job_form.bounds(p.name)
        schema = next(s for s in api[p.name].get("anyOf", [api[p.name]]) if "minimum" in s)
        assert (schema["minimum"], schema["maximum"]) == (low, high), p.name
        option = options[p.name]
        assert (option.min, option.max) == (low, high), p.name
        if p.name in tui:
            assert (tui[p.name]["low"], tui[p.name]["high"]) == (low, high), p.name
            assert tui[p.name]["default"] == api[p.name]["default"] == p.default
        with pytest.raises(BadInputError, match=f"{p.name}: got {high + 1}"):
            job_form.check(p.name, high + 1)
    # the service refuses out of range whatever the front end, naming the field
    rt.storage.create_dataset(tiny_dataset())
    with pytest.raises(BadInputError, match=r"max_concurrent: got 1001 \(allowed: an integer"):
        rt.services.jobs.submit(JobSpec(dataset="tiny", architectures=["cgan"],
                                        max_concurrent=1001))
    from synthts_core.cli import cli

    result = CliRunner().invoke(cli, ["train", "--dataset", "nowhere", "--trials", "0"], obj=rt)
    assert result.exit_code == 2 and "num_trials: got 0 (allowed: an integer in [1, 1000])" \
        in result.output, result.output
    assert rt.storage.list_jobs().total == 0


def test_the_trials_table_shows_the_parameters_that_differ_not_a_plugin_column() -> None:
    from synthts_core.cli.commands.train import plain_text, trials_table

    trials = [TrialState(trial_id="t00", architecture="a", epochs=2,
                         config={"lr": 0.0003, "width": 64, "kind": "x"}),
              TrialState(trial_id="t01", architecture="a", epochs=2,
                         config={"lr": 0.0005, "width": 64, "kind": "y"})]
    job = TrainingJob(id="job-t", spec=JobSpec(dataset="d", select_metric="mmd"), trials=trials)
    text = plain_text(trials_table(job, False))
    assert "lr=0.0003 kind=x" in text and "lr=0.0005 kind=y" in text
    assert "width" not in text and "backbone" not in text
    one = msgspec.structs.replace(job, trials=trials[:1])
    assert "params" not in plain_text(trials_table(one, False))  # nothing differs
