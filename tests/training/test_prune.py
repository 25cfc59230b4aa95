"""Retention: ``synthts jobs prune`` deletes the Ray experiment folders of finished jobs beyond
the kept ones (after two real tiny Tune runs), never a queued job's or a registered model, and a
pruned job says it cannot be resumed. The job records say which cluster they ran on."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from synthts_core.api.schemas.models import JobRead
from synthts_core.cli import cli
from synthts_core.domain import JobSpec, TrainingJob, utcnow
from synthts_core.errors import ConflictError
from synthts_core.runtime import Runtime
from synthts_core.services import cluster, leases, retention, training
from synthts_core.settings import Settings
from tests.training.conftest import TINY_SPACE

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_prune_keeps_the_newest_finished_jobs_folders(rt, dataset, tiny_spec) -> None:
    space = {k: v for k, v in TINY_SPACE.items() if k != "n_critic"}
    spec = tiny_spec(num_trials=1, epochs=1, architectures=["cgan"], model_name="tiny-gan",
                     search_space=space, max_concurrent=1)
    old = training.run_job(rt, training.submit_job(rt, spec).id)
    newer = training.cancel_job(rt, training.submit_job(rt, spec).id)  # finished later
    queued = training.submit_job(rt, spec)
    assert old.status == "succeeded" and newer.status == "cancelled", old.errors
    assert old.cluster is not None and old.cluster.resources["CPU"] == 2.0
    assert old.cluster.ray_version and old.cluster.address.startswith("local")
    old_dir = Path(old.experiment_path)
    assert old_dir.is_dir()

    runner = CliRunner()
    shown = runner.invoke(cli, ["jobs", "show", old.id], obj=rt)
    assert "cluster: local" in shown.output and "2 CPU" in shown.output, shown.output
    read = JobRead.from_domain(old)
    assert read.cluster is not None and read.cluster.resources["CPU"] == 2.0
    hidden = JobRead.from_domain(old, show_paths=False).cluster
    assert hidden is not None and hidden.address == "<hidden>"

    kept = runner.invoke(cli, ["jobs", "prune", "--keep", "2", "--json"], obj=rt)
    assert json.loads(kept.output)["folders"] == [] and old_dir.is_dir()
    # its owner (this process) beat moments ago: live, as a resume still reading the old
    # status is, so its folder stays until that heartbeat is stale
    live = runner.invoke(cli, ["jobs", "prune", "--keep", "0", "--json"], obj=rt)
    assert old.id not in [f["job_id"] for f in json.loads(live.output)["folders"]]
    assert old_dir.is_dir()
    rt.storage.update_job(old.id, heartbeat_at=utcnow() - timedelta(minutes=10))
    dry = runner.invoke(cli, ["jobs", "prune", "--keep", "1", "--dry-run", "--json"], obj=rt)
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.output)
    assert [f["job_id"] for f in planned["folders"]] == [old.id]
    assert planned["bytes"] == retention.folder_bytes(old_dir) > 0
    assert old_dir.is_dir()  # a dry run deletes nothing

    rt.settings = rt.settings.model_copy(update={"job_retention": 1})
    done = runner.invoke(cli, ["jobs", "prune"], obj=rt)
    assert done.exit_code == 0, done.output
    assert f"deleted {old_dir}" in done.output and "deleted 1 experiment folder(s)" in done.output
    assert not old_dir.exists() and old_dir.parent.is_dir()
    assert rt.storage.get_job(queued.id).status == "queued"
    pruned = rt.storage.get_job(old.id)
    assert pruned.status == "succeeded" and pruned.error is None
    assert retention.PRUNED in pruned.errors[-1] and "cannot be resumed" in pruned.errors[-1]
    with pytest.raises(ConflictError, match="cannot be resumed"):
        cluster.prepare_job(rt, pruned, resume=True)
    # the registered model is the tracker's: it still loads
    assert rt.tracker.load_bundle("tiny-gan", "1").weights
    again = runner.invoke(cli, ["jobs", "prune", "--keep", "0", "--json"], obj=rt)
    assert json.loads(again.output)["folders"] == []  # nothing left to prune


def test_prune_needs_a_retention(rt) -> None:
    result = CliRunner().invoke(cli, ["jobs", "prune", "--dry-run"], obj=rt)
    assert result.exit_code != 0 and "SYNTHTS_JOB_RETENTION" in result.output
    result = CliRunner().invoke(cli, ["jobs", "prune", "--keep", "-1"], obj=rt)
    assert result.exit_code != 0 and "--keep" in result.output


def test_only_tune_folders_named_after_the_job_are_deletable(tmp_path: Path) -> None:
    folder = tmp_path / "job-abc"
    folder.mkdir()
    assert not retention.deletable(folder, "job-abc", tmp_path)  # no Tune files
    (folder / "tuner.pkl").write_bytes(b"x")
    assert retention.deletable(folder, "job-abc", tmp_path)
    assert not retention.deletable(folder, "job-other", tmp_path)
    assert not retention.deletable(Path("job-abc"), "job-abc", tmp_path)  # relative
    assert not retention.deletable(Path.home(), Path.home().name, Path.home().parent)
    assert not retention.deletable(Path.cwd(), Path.cwd().name, Path.cwd().parent)


@pytest.fixture
def store_rt(synthts_settings: Settings) -> Iterator[Runtime]:
    """A runtime on real SQLite storage; no Ray (the jobs and their folders are made here)."""
    runtime = Runtime(synthts_settings)
    yield runtime
    runtime.close()


def _finished(rt: Runtime, name: str, age_s: int, **fields) -> TrainingJob:
    """A finished job created ``age_s`` ago with a Tune-looking folder in the Ray storage."""
    folder = Path(rt.settings.ray_storage_uri) / name
    folder.mkdir(parents=True)
    (folder / "tuner.pkl").write_bytes(b"x")
    (folder / "trial" / "checkpoint_000000").mkdir(parents=True)
    (folder / "trial" / "checkpoint_000000" / "model.pt").write_bytes(b"y" * 10)
    fields.setdefault("status", "succeeded")
    job = TrainingJob(id=name, spec=JobSpec(dataset="tiny", architectures=["cgan"]),
                      created_at=utcnow() - timedelta(seconds=age_s),
                      experiment_path=str(folder), **fields)
    return rt.storage.create_job(job)


def test_a_second_prune_keeps_the_same_newest_jobs(store_rt: Runtime) -> None:
    for age, name in enumerate("abcd"):  # a is the newest
        _finished(store_rt, f"job-{name}", age * 60)
    store_rt.storage.update_job("job-d", progress=1.0)  # a late write: d is updated last
    first = retention.prune(store_rt, keep=2)
    assert [i.job_id for i in first] == ["job-c", "job-d"]
    assert retention.prune(store_rt, keep=2) == []  # marking c and d did not make them newest
    root = Path(store_rt.settings.ray_storage_uri)
    assert (root / "job-a").is_dir() and (root / "job-b").is_dir()


def test_prune_leaves_a_failed_job_with_a_live_owner(store_rt: Runtime) -> None:
    """A resume holds the lease while the job still reads failed (Ray starting)."""
    job = _finished(store_rt, "job-r", 60, status="failed", owner=leases.new_owner(),
                    heartbeat_at=utcnow())
    assert retention.plan(store_rt, keep=0) == []
    assert retention.prune(store_rt, keep=0) == [] and Path(job.experiment_path).is_dir()
    # the owner stopped beating long ago: the folder may go
    store_rt.storage.update_job(job.id, heartbeat_at=utcnow() - timedelta(hours=1))
    assert [i.job_id for i in retention.prune(store_rt, keep=0)] == [job.id]


def _lock(path: Path) -> bool:
    """Make ``path`` undeletable for real: read-only parent (a user), immutable (root)."""
    if os.geteuid() != 0:
        path.parent.chmod(0o500)
        return True
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def _unlock(path: Path) -> None:
    if os.geteuid() != 0:
        path.parent.chmod(0o700)
    else:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_a_folder_that_cannot_be_deleted_is_marked_and_reported(store_rt: Runtime) -> None:
    job = _finished(store_rt, "job-p", 60)
    stuck = Path(job.experiment_path) / "trial" / "checkpoint_000000" / "model.pt"
    if not _lock(stuck):
        pytest.skip("cannot make a file undeletable here (no chattr)")
    try:
        result = CliRunner().invoke(cli, ["jobs", "prune", "--keep", "0"], obj=store_rt)
    finally:
        _unlock(stuck)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"could not delete all of {job.experiment_path}" in result.output
    marked = store_rt.storage.get_job(job.id)
    assert retention.PRUNED in marked.errors[-1] and "could not be deleted" in marked.errors[-1]


def test_only_folders_directly_in_the_ray_storage_are_deletable(tmp_path: Path) -> None:
    root = tmp_path / "ray"
    inside, outside = root / "job-a", tmp_path / "elsewhere" / "job-a"
    for folder in (inside, outside, root / "deeper" / "job-a"):
        folder.mkdir(parents=True)
        (folder / "tuner.pkl").write_bytes(b"x")
    assert retention.deletable(inside, "job-a", root)
    assert not retention.deletable(outside, "job-a", root)
    assert not retention.deletable(root / "deeper" / "job-a", "job-a", root)
    assert not retention.deletable(inside, "job-a", "s3://bucket/ray")


def test_a_file_uri_ray_storage_is_made_absolute() -> None:
    uri = Settings(_env_file=None, ray_storage="file://rel/ray").ray_storage_uri
    assert uri == str(Path.cwd() / "rel" / "ray")
    assert Settings(_env_file=None, ray_storage="file:///srv/ray").ray_storage_uri == "/srv/ray"
    assert Settings(_env_file=None, ray_storage="s3://b/ray").ray_storage_uri == "s3://b/ray"
