"""Retention: ``synthts jobs prune`` deletes the Ray experiment folders of finished jobs beyond
the kept ones (after two real tiny Tune runs), never a queued job's or a registered model, and a
pruned job says it cannot be resumed. The job records say which cluster they ran on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from synthts_core.api.schemas.models import JobRead
from synthts_core.cli import cli
from synthts_core.errors import ConflictError
from synthts_core.services import cluster, retention, training
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
    assert not retention.deletable(folder, "job-abc")  # no Tune files: not an experiment
    (folder / "tuner.pkl").write_bytes(b"x")
    assert retention.deletable(folder, "job-abc")
    assert not retention.deletable(folder, "job-other")
    assert not retention.deletable(Path("job-abc"), "job-abc")  # relative
    assert not retention.deletable(Path.home(), Path.home().name)
    assert not retention.deletable(Path.cwd(), Path.cwd().name)
