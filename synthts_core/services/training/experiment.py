"""The job as a Ray Tune experiment: the drawn trials handed to Tune as one grid (or an
interrupted experiment restored from its folder after its saved state is checked), what every
trial is given, and the results read back with each trial's index in the job.

Ray is imported only when ``fit`` runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthts_core.domain import TrainingJob
from synthts_core.errors import ConflictError
from synthts_core.services.training.spec import job_label_indices, per_class_score
from synthts_core.services.training.tracker_runs import experiment_name

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime


def trial_context(rt: Runtime, job: TrainingJob) -> dict[str, Any]:
    """What every trial of the job is given (``training_trial.train_trial``'s ``context``):
    plain values only, settings included (``settings_for_workers``)."""
    spec = job.spec
    return {"settings": settings_for_workers(rt.settings), "job_id": job.id,
            "dataset": spec.dataset, "label_indices": job_label_indices(rt, job),
            "epochs": spec.epochs,
            "select_metric": spec.select_metric, "seed": spec.seed,
            "per_class_score": per_class_score(rt, spec),
            "experiment": experiment_name(rt, spec)}


def settings_for_workers(settings: Any) -> dict[str, Any]:
    """Settings as plain values, secrets included: they travel in Ray's object store (through
    ``tune.with_parameters``), never in the experiment files on disk."""
    out = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        out[name] = str(value) if isinstance(value, Path) else value
    return out


TUNE_STATE_FILES = (("experiment_state-*.json", "json"), ("basic-variant-state-*.json", "pickle"))
"""The run state Tune reads back on a resume (the newest of each, by name, as Tune picks it)."""


def check_tune_state(path: str) -> None:
    """Refuse a resume whose saved Tune state is cut short. Tune copies its state files to the
    experiment folder every few seconds; a driver killed during that copy leaves one truncated,
    and Tune then does not resume: it logs the error and restarts a broken experiment whose
    trials fail on a missing config. A ``ConflictError`` naming the file is the honest answer.
    Only local folders are read (a URI such as s3:// is left to Tune)."""
    folder = Path(path)
    if "://" in path or not folder.is_dir():
        return
    for pattern, kind in TUNE_STATE_FILES:
        found = sorted(folder.glob(pattern))
        if not found:
            continue
        newest = found[-1]
        try:
            data = newest.read_bytes()
            if kind == "json":
                import json

                json.loads(data)
            else:
                import ray.cloudpickle as cloudpickle  # Tune's own format for this file

                cloudpickle.loads(data)
        except Exception as exc:
            raise ConflictError(
                f"the saved Tune state {newest.name} in {path} is cut short "
                f"({type(exc).__name__}): the run was killed while Tune was writing it, so it "
                "cannot be resumed; train the job again (its trials' checkpoints stay in that "
                "folder)", path=str(newest)) from None


def fit(rt: Runtime, job: TrainingJob, resume: bool) -> Any:
    from ray import tune

    from synthts_core.services.training_ray import CancelStopper, JobRecorder
    from synthts_core.services.training_trial import train_trial

    # experiment state reaches disk every few seconds, so a killed job loses little
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: Tune prints nothing
    # a failed trial is recorded (and shown) as one line with its cause; Tune would also log
    # the whole remote traceback (it stays in the trial's error.txt)
    os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")
    settings = rt.settings
    # SYNTHTS_RAY_STORAGE: a folder every node mounts, or a URI Tune accepts (s3://...)
    storage_uri = settings.ray_storage_uri
    storage = storage_uri if "://" in storage_uri else Path(storage_uri)
    if isinstance(storage, Path):
        storage.mkdir(parents=True, exist_ok=True)
    trainable = tune.with_resources(
        tune.with_parameters(train_trial, context=trial_context(rt, job)),
        {"cpu": settings.ray_cpus_per_trial, "gpu": settings.ray_gpus_per_trial})
    path = job.experiment_path or f"{str(storage).rstrip('/')}/{job.id}"
    if resume and tune.Tuner.can_restore(path):
        check_tune_state(path)
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True,
                                   resume_errored=True)
    else:
        spec = job.spec
        configs = [{"index": i, "architecture": t.architecture, "params": dict(t.config),
                    "epochs": t.epochs} for i, t in enumerate(job.trials)]
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=spec.max_concurrent,
                                        reuse_actors=False),
            run_config=tune.RunConfig(
                name=job.id, storage_path=str(storage), stop=CancelStopper(job.id),
                callbacks=[JobRecorder(job.id)], verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
                # keep all: the trial prunes its own (training_trial.CheckpointPruner), and
                # only scored epochs carry the metric, so Tune ranks none of them
                checkpoint_config=tune.CheckpointConfig(num_to_keep=None)),
        )
    rt.storage.update_job(job.id, experiment_path=path)
    return tuner.fit()


def result_indices(results: Any) -> list[tuple[int | None, Any]]:
    """Each Tune result with its trial's index in the job. A trial that never reported (its
    worker never started) has no config in its result: Tune's record of the trial, in the same
    order as the results, has it. None where neither does."""
    analysis = getattr(results, "_experiment_analysis", None)
    trials = list(getattr(analysis, "trials", None) or [])
    out: list[tuple[int | None, Any]] = []
    for position, result in enumerate(results):
        config = result.config
        if not config and position < len(trials):
            config = getattr(trials[position], "config", None)
        try:
            index: int | None = int(config["trial"]["index"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            index = None
        out.append((index, result))
    return out
