"""Training service: submit, run, cancel and resume GAN searches as Ray Tune experiments.

A job is stored first (status ``queued``) and run later, by the CLI in the foreground or by the
API in a background thread. The trials of a job are drawn up front from the job's seed, so a
job is reproducible and its trial list is known (and shown) before Ray starts:

* ``architectures`` are dealt round-robin, so every named architecture gets trials;
* a search-space value given as a list is a random choice among its items (``tune.choice``
  semantics); ``{"low": a, "high": b}`` samples uniformly, log-uniformly when the parameter is
  declared ``log``; a plain value is fixed; parameters not named keep their defaults;
* a key applies to every chosen architecture that declares it.

The drawn configurations go to Tune as one ``grid_search``, so ``num_trials`` is exactly the
number of trials. The best trial is picked by sample quality (``select_metric``), never by a
GAN loss, and registered with the alias ``best``.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from synthts_core.domain import (
    TERMINAL_STATUSES,
    JobSpec,
    ModelBundle,
    Page,
    TrainingJob,
    TrialState,
    check_name,
)
from synthts_core.errors import BadInputError, ConflictError, SynthtsError
from synthts_core.schema import Param

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

log = logging.getLogger("synthts.training")

MAX_TRIALS, MAX_EPOCHS = 1000, 100_000


# ----------------------------------------------------------------------------- submit


def submit_job(rt: Runtime, spec: JobSpec) -> TrainingJob:
    """Check the spec against storage and the registries, store the job as ``queued``."""
    validate_spec(rt, spec)
    job = TrainingJob(id=new_job_id(), spec=spec, trials=draw_trials(rt, spec))
    return rt.storage.create_job(job)


def new_job_id() -> str:
    return "job-" + uuid.uuid4().hex[:12]


def validate_spec(rt: Runtime, spec: JobSpec) -> None:
    """Every field checked before anything is stored; errors name the field."""
    meta = rt.storage.get_dataset_meta(spec.dataset)  # NotFoundError names the dataset
    if spec.labels is not None:
        unknown = [lab for lab in spec.labels if lab not in meta.label_names]
        if unknown or not spec.labels:
            raise BadInputError("labels", f"unknown label(s) {unknown}" if unknown else
                                "is empty", allowed=", ".join(meta.label_names) or "no labels")
    if not spec.architectures:
        raise BadInputError("architectures", "is empty",
                            allowed=", ".join(rt.registries.architectures.names()))
    for i, name in enumerate(spec.architectures):
        rt.registries.architectures.require(name, f"architectures[{i}]")
    _check_int("num_trials", spec.num_trials, 1, MAX_TRIALS)
    _check_int("epochs", spec.epochs, 1, MAX_EPOCHS)
    if spec.max_concurrent is not None:
        _check_int("max_concurrent", spec.max_concurrent, 1, MAX_TRIALS)
    rt.registries.metrics.require(spec.select_metric, "select_metric")
    if spec.model_name is not None:
        check_name(spec.model_name, "model_name")
    else:
        check_name(f"{spec.dataset}-gan", "dataset")
    spaces = [rt.registries.architectures.get(a).space for a in spec.architectures]
    for key, value in spec.search_space.items():
        params = [s[key] for s in spaces if key in s.names]
        if not params:
            allowed = sorted({n for s in spaces for n in s.names})
            raise BadInputError(f"search_space.{key}", "is not a parameter of "
                                f"{', '.join(spec.architectures)}", allowed=", ".join(allowed))
        for p in params:
            _check_choices(p, value, f"search_space.{key}")


def _check_int(field: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInputError(field, f"got {value!r}", allowed=f"an integer in [{low}, {high}]")


def _check_choices(p: Param, value: Any, field: str) -> None:
    if isinstance(value, dict):
        if set(value) != {"low", "high"} or p.kind not in ("int", "float"):
            raise BadInputError(field, f"got {value!r}", allowed='a value, a list of values, or '
                                '{"low": a, "high": b} for a number' if p.kind in ("int", "float")
                                else f"a value or a list of values, each {p.allowed()}")
        low, high = (_validate_as(p, value[k], f"{field}.{k}") for k in ("low", "high"))
        if low > high:
            raise BadInputError(field, f"low {low} > high {high}", allowed="low <= high")
        if p.log and low <= 0:
            raise BadInputError(field, f"low {low} on a log scale", allowed="low > 0")
        return
    items = value if isinstance(value, list) else [value]
    if not items:
        raise BadInputError(field, "is an empty list", allowed=p.allowed())
    for item in items:
        _validate_as(p, item, field)


def _validate_as(p: Param, value: Any, field: str) -> Any:
    try:
        return p.validate(value)
    except BadInputError as exc:
        raise BadInputError(field, f"got {value!r}", allowed=exc.allowed) from None


def draw_trials(rt: Runtime, spec: JobSpec) -> list[TrialState]:
    """The job's trials, drawn from ``spec.seed`` (see the module docstring for the rules)."""
    rng = np.random.default_rng(spec.seed)
    trials = []
    for index in range(spec.num_trials):
        arch_name = spec.architectures[index % len(spec.architectures)]
        space = rt.registries.architectures.get(arch_name).space
        params = space.defaults()
        for key, value in spec.search_space.items():
            if key in space.names:
                params[key] = _draw(space[key], value, rng)
        trials.append(TrialState(trial_id=f"t{index:02d}", architecture=arch_name,
                                 config=space.validate(params), epochs=spec.epochs))
    return trials


def _draw(p: Param, value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, list):
        return value[int(rng.integers(len(value)))]
    if isinstance(value, dict):
        low, high = float(value["low"]), float(value["high"])
        x = math.exp(rng.uniform(math.log(low), math.log(high))) if p.log else \
            rng.uniform(low, high)
        return round(x) if p.kind == "int" else float(x)
    return value


# ----------------------------------------------------------------------------- run


def run_job(rt: Runtime, job_id: str, *, resume: bool = False,
            on_progress: Callable[[TrainingJob], None] | None = None) -> TrainingJob:
    """Run (or resume) a stored job to the end; blocks. Returns the final job record."""
    job = rt.storage.get_job(job_id)
    if job.status in TERMINAL_STATUSES and not resume:
        raise ConflictError(f"training job {job_id!r} is already {job.status}", name=job_id)
    if job.status == "running" and not resume:
        raise ConflictError(f"training job {job_id!r} is running (if its process died, resume "
                            f"it: synthts train --resume {job_id})", name=job_id)
    if job.status == "cancelling":
        return rt.storage.update_job(job_id, status="cancelled")
    acquired = False
    try:
        # inside the try: a job whose Ray cannot start (or import) fails, never stays queued
        from synthts_core.services import training_ray

        training_ray.acquire_ray(rt.settings)
        acquired = True
        training_ray.ACTIVE_JOBS[job_id] = (rt, on_progress)
        if rt.storage.get_job(job_id).status in ("cancelling", "cancelled"):
            # cancelled while Ray was starting: honour it, never flip back to running
            return rt.storage.update_job(job_id, status="cancelled")
        rt.storage.update_job(job_id, status="running")
        _prepare_tracker(rt)
        results = _fit(rt, job, resume)
        return _finish(rt, job_id, results)
    except Exception as exc:
        msg = exc.message if isinstance(exc, SynthtsError) else f"{type(exc).__name__}: {exc}"
        log.exception("training job %s failed", job_id)
        rt.storage.update_job(job_id, status="failed", error=msg)  # appends: trial errors stay
        raise
    finally:
        if acquired:
            training_ray.ACTIVE_JOBS.pop(job_id, None)
            training_ray.release_ray()


def _prepare_tracker(rt: Runtime) -> None:
    """Open the tracker once in the driver before the workers do: an embedded MLflow store
    creates its database on first use, and two workers racing to create it break one."""
    try:
        rt.tracker.ping()
    except Exception as exc:
        log.warning("tracker unavailable before training (trials will retry): %s", exc)


def _context(rt: Runtime, job: TrainingJob) -> dict[str, Any]:
    spec = job.spec
    return {"settings": settings_for_workers(rt.settings), "job_id": job.id,
            "dataset": spec.dataset, "label_indices": _label_indices(rt, job),
            "epochs": spec.epochs,
            "select_metric": spec.select_metric, "seed": spec.seed,
            "per_class_score": per_class_score(rt, spec),
            "experiment": f"{rt.settings.mlflow_experiment}-{spec.dataset}"}


def per_class_score(rt: Runtime, spec: JobSpec) -> bool:
    """Trials are ranked by their worst class only when every one of them can be (a labelled
    dataset, conditional architectures only); otherwise all are scored on the pooled sets, so
    an unconditional trial never wins by being judged more leniently."""
    labelled = len(rt.storage.get_dataset_meta(spec.dataset).label_names) > 1
    return labelled and all(rt.registries.architectures.get(a).conditional
                            for a in spec.architectures)


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


def _fit(rt: Runtime, job: TrainingJob, resume: bool) -> Any:
    from ray import tune

    from synthts_core.services.training_ray import CancelStopper, JobRecorder
    from synthts_core.services.training_trial import train_trial

    # experiment state reaches disk every few seconds, so a killed job loses little
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: Tune prints nothing
    settings = rt.settings
    storage = Path(settings.ray_storage_dir).absolute()
    storage.mkdir(parents=True, exist_ok=True)
    trainable = tune.with_resources(
        tune.with_parameters(train_trial, context=_context(rt, job)),
        {"cpu": settings.ray_cpus_per_trial, "gpu": settings.ray_gpus_per_trial})
    path = job.experiment_path or str(storage / job.id)
    if resume and tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True,
                                   resume_errored=True)
    else:
        spec = job.spec
        configs = [{"index": i, "architecture": t.architecture, "params": dict(t.config)}
                   for i, t in enumerate(job.trials)]
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


def _higher_is_better(rt: Runtime, metric: str) -> bool:
    return bool(rt.registries.metrics.get(metric).higher_is_better)


def _finish(rt: Runtime, job_id: str, results: Any) -> TrainingJob:
    """Record errors, then register the best trial by quality (unless cancelled)."""
    from synthts_core.services.training_ray import error_text

    job = rt.storage.get_job(job_id)
    errors = list(job.errors)
    for result in results:
        if result.error is not None:
            index = int(result.config["trial"]["index"])
            text = error_text(result.error)
            errors.append(f"trial t{index:02d}: {text}")
    errors = list(dict.fromkeys(errors))
    if job.status in ("cancelling", "cancelled"):
        return rt.storage.update_job(job_id, status="cancelled", errors=errors)
    # the real series every candidate is scored against: read once, only if something is scored
    scoring = functools.cache(lambda: _scoring_data(rt, job))
    best = _best_checkpoint(rt, job, results, scoring)
    if best is None:
        errors.append("no trial produced a checkpoint: nothing to register")
        return rt.storage.update_job(job_id, status="failed", errors=errors)
    index, checkpoint, score, scores, kept = best
    bundle = _bundle(checkpoint, job.spec.select_metric, score)
    state = job.trials[index]
    name = job.spec.model_name or f"{job.spec.dataset}-gan"
    aliases = ["best"] if _beats_current_best(rt, job, name, score, scoring) else []
    ref = rt.tracker.register_model(name, bundle, run_id=state.run_id, aliases=aliases)
    trials = list(job.trials)
    for i, fresh in scores.items():
        trials[i] = msgspec.structs.replace(trials[i], selection_score=fresh)
    freed = prune_finished(results, keep={str(ck.path) for ck in kept})
    if freed:
        log.info("job %s: deleted %d superseded checkpoints", job_id, freed)
    return rt.storage.update_job(job_id, status="succeeded", errors=errors, model=ref,
                                 best_trial=state.trial_id, progress=1.0, trials=trials)


def prune_finished(results: Any, keep: set[str]) -> int:
    """A finished job needs no checkpoint to resume from: delete every local checkpoint folder
    but each trial's best scored one (``keep``). Returns how many were deleted."""
    import shutil

    freed = 0
    for result in results:
        for ck, _ in (result.best_checkpoints or []):
            fs = getattr(ck, "filesystem", None)
            if fs is not None and getattr(fs, "type_name", "local") != "local":
                continue
            if str(ck.path) not in keep and Path(ck.path).is_dir():
                shutil.rmtree(ck.path, ignore_errors=True)
                freed += 1
    return freed


def _best_checkpoint(rt: Runtime, job: TrainingJob, results: Any,
                     scoring: Callable[[], tuple[Any, bool]]
                     ) -> tuple[int, Any, float, dict[int, float], list[Any]] | None:
    """Each trial's best checkpoint by the score it was picked with, then every candidate
    scored again on fresh samples (another seed, another draw of the real series): the winner
    and the registered score come from that held-out estimate, not from the minimum of many
    noisy per-epoch values, which is biased towards luck."""
    metric = job.spec.select_metric
    higher = _higher_is_better(rt, metric)
    from synthts_core.services.training_trial import CURVE_METRIC, selection_key

    candidates: list[tuple[int, Any, float, float]] = []
    for result in results:
        if result.error is not None:
            continue
        pairs = [(ck, m.get(metric), m.get(CURVE_METRIC, math.nan))
                 for ck, m in (result.best_checkpoints or [])]
        pairs = [(ck, float(v), float(t)) for ck, v, t in pairs
                 if isinstance(v, int | float) and _still_there(ck)]
        if not pairs:
            continue
        finite = [p for p in pairs if math.isfinite(p[1])] or pairs
        ck, score, tiebreak = (max if higher else min)(
            finite, key=lambda p: selection_key(p[1], p[2], higher))
        candidates.append((int(result.config["trial"]["index"]), ck, score, tiebreak))
    if not candidates:
        return None
    from synthts_core.services.selection import rescore_checkpoint

    dataset, per_class = scoring()
    fresh = {i: rescore_checkpoint(rt, ck, dataset, metric, job.spec.seed, per_class)
             for i, ck, _, _ in candidates}
    worst = -math.inf if higher else math.inf
    key = {i: (v if math.isfinite(v) else worst) for i, v in fresh.items()}
    index, checkpoint, _, _ = (max if higher else min)(
        candidates, key=lambda c: selection_key(key[c[0]], c[3], higher))
    return index, checkpoint, fresh[index], fresh, [c[1] for c in candidates]


def _scoring_data(rt: Runtime, job: TrainingJob) -> tuple[Any, bool]:
    """(the job's real series, whether trials are ranked by their worst class)."""
    return (rt.storage.read_dataset(job.spec.dataset, labels=_label_indices(rt, job)),
            per_class_score(rt, job.spec))


def _label_indices(rt: Runtime, job: TrainingJob) -> list[int] | None:
    if job.spec.labels is None:
        return None
    names = rt.storage.get_dataset_meta(job.spec.dataset).label_names
    return [names.index(lab) for lab in job.spec.labels]


def _beats_current_best(rt: Runtime, job: TrainingJob, name: str, score: float,
                        scoring: Callable[[], tuple[Any, bool]] | None = None) -> bool:
    """``best`` moves only to a version at least as good as the one it names, both scored the
    same way (the current best is scored again with this job's metric and data)."""
    from synthts_core.errors import NotFoundError
    from synthts_core.services.selection import rescore_bundle

    try:
        current = rt.tracker.get_version(name, "best")
    except NotFoundError:
        return True
    try:
        bundle = rt.tracker.load_bundle(name, current.version)
        dataset, per_class = (scoring or (lambda: _scoring_data(rt, job)))()
        theirs = rescore_bundle(rt, bundle.config, bundle.weights, dataset,
                                job.spec.select_metric, job.spec.seed, per_class)
    except Exception as exc:  # a version that cannot be scored here cannot be defended
        log.warning("could not score %s@%s against the new version (%s): best moves",
                    name, current.version, exc)
        return True
    if not math.isfinite(theirs):
        return True
    if not math.isfinite(score):
        return False
    better = score >= theirs if _higher_is_better(rt, job.spec.select_metric) else \
        score <= theirs
    if not better:
        log.info("best stays on %s@%s (%s %.4f) over the new version (%.4f)", name,
                 current.version, job.spec.select_metric, theirs, score)
    return better


def _still_there(checkpoint: Any) -> bool:
    """False for a local checkpoint the trial pruned (remote ones are assumed present)."""
    fs = getattr(checkpoint, "filesystem", None)
    if fs is None or getattr(fs, "type_name", "local") != "local":
        return True
    return Path(checkpoint.path).is_dir()


def _bundle(checkpoint: Any, metric: str, score: float) -> ModelBundle:
    import json

    from synthts_core.services.training_trial import CONFIG_FILE, PROGRESS_FILE, WEIGHTS_FILE

    with checkpoint.as_directory() as d:
        folder = Path(d)
        config = json.loads((folder / CONFIG_FILE).read_text())
        weights = (folder / WEIGHTS_FILE).read_bytes()
        progress = json.loads((folder / PROGRESS_FILE).read_text())
    last = next((h for h in reversed(progress["history"]) if h["epoch"] == config["epoch"]), {})
    metrics = {k: float(v) for k, v in last.items() if k != "epoch"}
    metrics[metric] = score
    metrics["epoch"] = float(config["epoch"])
    return ModelBundle(config=config, weights=weights, metrics=metrics)


# ----------------------------------------------------------------------------- control


def start_job_in_background(rt: Runtime, job_id: str, *, resume: bool = False
                            ) -> threading.Thread:
    """Run a job in a daemon thread (the API's way: never on the event loop). Failures are
    already written to the job record by ``run_job``; the thread only logs them."""

    def target() -> None:
        try:
            run_job(rt, job_id, resume=resume)
        except Exception:
            log.exception("background training job %s ended with an error", job_id)

    thread = threading.Thread(target=target, name=f"synthts-train-{job_id}", daemon=True)
    thread.start()
    return thread


def cancel_job(rt: Runtime, job_id: str) -> TrainingJob:
    """Ask a job to stop: a queued job is cancelled at once, a running one stops its trials at
    their next epoch (the runner then marks it ``cancelled``)."""
    job = rt.storage.get_job(job_id)
    if job.status in TERMINAL_STATUSES:
        raise ConflictError(f"training job {job_id!r} is already {job.status}", name=job_id)
    status = "cancelled" if job.status == "queued" else "cancelling"
    return rt.storage.update_job(job_id, status=status)


def resume_job(rt: Runtime, job_id: str, *,
               on_progress: Callable[[TrainingJob], None] | None = None) -> TrainingJob:
    """Continue an interrupted job from its trials' last checkpoints (blocks)."""
    job = rt.storage.get_job(job_id)
    if job.status in ("succeeded", "cancelled"):
        raise ConflictError(f"training job {job_id!r} is {job.status}; nothing to resume",
                            name=job_id)
    return run_job(rt, job_id, resume=True, on_progress=on_progress)


def get_job(rt: Runtime, job_id: str) -> TrainingJob:
    return rt.storage.get_job(job_id)


def list_jobs(rt: Runtime, *, offset: int = 0, limit: int = 50,
              status: str | None = None) -> Page:
    return rt.storage.list_jobs(offset=offset, limit=limit, status=status)
