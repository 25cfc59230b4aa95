"""Kill a job's driver mid-way (SIGKILL, no clean-up), then resume it from its checkpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from synthts_core.errors import ConflictError
from synthts_core.services import training
from synthts_core.services.training_trial import STAGING, STATE_FILE

pytestmark = [pytest.mark.ray, pytest.mark.slow]

DRIVER = textwrap.dedent("""
    import sys
    from synthts_core.runtime import Runtime
    from synthts_core.services.training import run_job
    from synthts_core.settings import Settings

    data_dir, address, job_id = sys.argv[1:4]
    settings = Settings(_env_file=None, data_dir=data_dir, ray_address=address, device="cpu")
    run_job(Runtime(settings), job_id)
""")


def test_a_killed_job_resumes_from_its_checkpoints(rt, dataset, tiny_spec, local_ray) -> None:
    epochs = 30  # enough that no trial ends within one experiment-state save (2 s)
    job = training.submit_job(rt, tiny_spec(num_trials=2, epochs=epochs))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(rt.settings.data_dir),
                             local_ray, job.id], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        # when every trial had checkpointed twice: a trial that reached its checkpoints only
        # after the last state save before the kill restarts from scratch, rightly (on a busy
        # machine the second trial started late and got there within the sleep below)
        seen_at = None
        while time.monotonic() < deadline and proc.poll() is None:
            if seen_at is None and all(t.epoch >= 2 for t in rt.storage.get_job(job.id).trials):
                seen_at = time.time()
            # kill once Tune's experiment state (written every 2 s) knows those checkpoints
            if seen_at is not None and _state_written_after(rt, job.id, seen_at):
                # let that save finish (the searcher's state is copied just after the
                # experiment state); the next one is 2 s away. A kill inside a save is
                # refused by check_tune_state, tested below.
                time.sleep(0.7)
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the driver ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group this test started
        proc.wait(timeout=30)
    killed = rt.storage.get_job(job.id)
    assert killed.status == "running"  # what a crash leaves behind, readable after it
    assert killed.experiment_path
    at_kill = {t.trial_id: t.epoch for t in killed.trials}
    assert max(at_kill.values()) >= 3 and min(at_kill.values()) < epochs

    with pytest.raises(ConflictError, match="--resume"):
        training.run_job(rt, job.id)  # a second run would clash with the experiment folder
    # checkpoints are staged under the data folder, never in /tmp: what a killed trial left
    # there (or a job gone from storage left) is deleted when a job ends, this job's too
    staging = rt.settings.data_dir / STAGING
    gone = staging / "job-gone" / "t00"
    gone.mkdir(parents=True)
    (gone / STATE_FILE).write_bytes(b"left by a killed trial")
    done = training.resume_job(rt, job.id)
    assert done.status == "succeeded", done.errors
    assert not any(staging.iterdir()), sorted(staging.rglob("*"))
    assert done.model is not None
    for trial in done.trials:
        assert trial.epoch == epochs and trial.status == "succeeded"
        epochs_seen = [int(h["epoch"]) for h in trial.history]
        assert epochs_seen == list(range(1, epochs + 1))
        resumed = [h for h in trial.history if h["resumed_from_epoch"] > 0]
        if 2 <= at_kill[trial.trial_id] < epochs:
            # the first epoch run after the restart continued from a checkpoint, not from 0
            assert resumed, (f"{trial.trial_id} restarted from scratch", at_kill)
        if resumed:
            start = int(resumed[0]["resumed_from_epoch"])
            assert 1 <= start <= at_kill[trial.trial_id]
            assert int(resumed[0]["epoch"]) == start + 1
        # the same tracker run carries on: one value per epoch
        steps = [s for s, _ in rt.tracker.run_history(trial.run_id)["mmd"]]
        assert sorted(set(steps)) == list(range(1, epochs + 1))


def _state_written_after(rt, job_id: str, when: float) -> bool:
    path = rt.storage.get_job(job_id).experiment_path
    if not path or not os.path.isdir(path):
        return False
    return any(name.startswith("experiment_state") and
               os.path.getmtime(os.path.join(path, name)) > when + 0.5
               for name in os.listdir(path))


def test_a_resume_refuses_tune_state_cut_short_by_a_kill(tmp_path) -> None:
    """A driver killed while Tune copied its state leaves a truncated file (seen in CI: the
    searcher's state ended mid-pickle, and Tune restarted a broken run instead of resuming).
    Real files, cut the way a kill cuts them."""
    import ray.cloudpickle as cloudpickle

    state = cloudpickle.dumps({"_variant_generator": [], "_trial_generator": None})
    searcher = tmp_path / "basic-variant-state-2026-12-03_08-00-00.json"
    (tmp_path / "experiment_state-2026-12-03_08-00-00.json").write_text('{"trial_data": []}')
    searcher.write_bytes(state)
    training.check_tune_state(str(tmp_path))  # whole: no error

    searcher.write_bytes(state[:len(state) // 2])
    with pytest.raises(ConflictError, match=r"basic-variant-state.*cut short"):
        training.check_tune_state(str(tmp_path))
    searcher.write_bytes(b"")
    with pytest.raises(ConflictError, match="cut short"):
        training.check_tune_state(str(tmp_path))
    searcher.write_bytes(state)
    (tmp_path / "experiment_state-2026-12-03_08-00-02.json").write_text('{"trial_da')
    with pytest.raises(ConflictError, match="experiment_state-2026-12-03_08-00-02"):
        training.check_tune_state(str(tmp_path))
