"""Training service: submit, run, cancel and resume model searches as Ray Tune experiments.

A job is stored first (status ``queued``) and run later, by the CLI in the foreground or by the
API in a background thread. The trials of a job are drawn up front from the job's seed, so a
job is reproducible and its trial list is known (and shown) before Ray starts:

* ``architectures`` are dealt round-robin, so every named architecture gets trials;
* a search-space value given as a list is a random choice among its items (``tune.choice``
  semantics), except that an architecture's trials do not repeat a combination while an
  untried one is left (4 trials over two 2-item lists try all 4); ``{"low": a, "high": b}``
  samples uniformly, log-uniformly when the parameter is declared ``log``; a plain value is
  fixed; parameters not named keep their defaults;
* a key applies to every chosen architecture that declares it.

The drawn configurations go to Tune as one ``grid_search``, so ``num_trials`` is exactly the
number of trials. The best trial is picked by sample quality (``select_metric``), never by a
training loss, and registered with the alias ``best``.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from synthts_core import missing, privacy
from synthts_core.domain import (
    TERMINAL_STATUSES,
    DataShape,
    JobOwner,
    JobSpec,
    ModelBundle,
    TrainingJob,
    TrialState,
    check_name,
    utcnow,
)
from synthts_core.errors import BadInputError, ConflictError, NotFoundError, SynthtsError
from synthts_core.schema import Param
from synthts_core.services import job_form
from synthts_core.storage_support import owner_text

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

log = logging.getLogger("synthts.training")


# ----------------------------------------------------------------------------- submit


def submit_job(rt: Runtime, spec: JobSpec) -> TrainingJob:
    """Fill in what the spec leaves to the plugins (``resolve_defaults``), check it against
    storage and the registries, store the job as ``queued``."""
    spec = resolve_defaults(rt, spec)
    validate_spec(rt, spec)
    trials = draw_trials(rt, spec)
    check_trials(rt, spec, trials)
    job = TrainingJob(id=new_job_id(), spec=spec, trials=trials)
    return rt.storage.create_job(job)


def data_shape(rt: Runtime, spec: JobSpec) -> DataShape:
    """The shape of what the job trains on: the labels it keeps, when it names some, without
    the held-out series (counted from the metadata alone, so a submit reads no values: with a
    held-out split and a label subset, the split's share is taken as even across labels)."""
    meta = rt.storage.get_dataset_meta(spec.dataset)
    n_series, n_classes = meta.n_series, len(meta.label_names)
    if spec.labels is not None and meta.label_names:
        keep = [i for i, name in enumerate(meta.label_names) if name in spec.labels]
        counts = meta.label_counts or [0] * n_classes
        n_series, n_classes = sum(counts[i] for i in keep), len(keep)
    if meta.n_holdout and meta.n_series:
        n_series = round(n_series * (1 - meta.n_holdout / meta.n_series))
    return DataShape(n_series=n_series, n_channels=meta.n_channels, length=meta.length,
                     n_classes=n_classes, ragged=meta.min_length is not None)


def default_spaces(registries: Any, shape: DataShape) -> dict[str, dict[str, Any]]:
    """The architectures a job that names none trains, each with the search space it declares
    for data of this ``shape`` (``default_space``; an architecture without one but with
    ``in_default_search`` gets its plain defaults), by name. (For a job that asks for
    differential privacy, ``shape.private``, ``resolve_defaults`` keeps those that support
    it.)"""
    spaces: dict[str, dict[str, Any]] = {}
    for arch in registries.architectures:
        declare = getattr(arch, "default_space", None)
        if callable(declare):
            space = declare(shape)
        else:
            space = {} if getattr(arch, "in_default_search", False) else None
        if space is not None:
            spaces[arch.name] = dict(space)
    return spaces


UPDATES_PER_TRIAL = 2000  # what a job that names no epochs gives each trial, about
EPOCH_BOUNDS = (10, 1000)


def default_epochs(shape: DataShape, updates: int = UPDATES_PER_TRIAL) -> int:
    """Epochs for about ``updates`` updates at the batch sizes the default spaces choose (a
    quarter of the set, 8 to 64 series): 65 on 2000 series, 500 on 50 for the default 2000;
    never fewer than 10 or more than 1000."""
    batch = min(64, max(8, shape.n_series // 4))
    steps = max(1, shape.n_series // batch)
    low, high = EPOCH_BOUNDS
    return int(min(high, max(low, math.ceil(updates / steps))))


def declared_epochs(registries: Any, names: list[str], shape: DataShape) -> dict[str, int]:
    """Epochs for the architectures in ``names`` that declare their own ``default_updates``
    (a family that needs more updates than ``UPDATES_PER_TRIAL`` to learn real data: the
    built-in diffusion), by name."""
    out: dict[str, int] = {}
    for name in names:
        if name not in registries.architectures:
            continue  # validate_spec names it
        updates = getattr(registries.architectures.get(name), "default_updates", None)
        if updates:
            out[name] = default_epochs(shape, int(updates))
    return out


def default_select_metric(registries: Any) -> str | None:
    """The metric a job that names none is ranked by: the first installed metric (by name)
    that gives the verdict (states a ``pass_threshold``); None when none does."""
    return next((m.name for m in registries.metrics
                 if getattr(m, "pass_threshold", None) is not None), None)


def resolve_defaults(rt: Runtime, spec: JobSpec) -> JobSpec:
    """The spec with the defaults the installed plugins declare for what it leaves unset
    (``None``): ``architectures`` with their spaces for this data (``default_spaces``),
    ``epochs`` (``default_epochs``; per architecture where one declares ``default_updates``)
    and ``select_metric`` (``default_select_metric``). What is still unset after that fails
    ``validate_spec``. A job that asks for differential privacy and names no architectures
    trains those of the default search that support it (``privacy.default_search``), each
    with the space it declares for a private job (``DataShape.private``); one on a dataset
    with missing points or unequal lengths, those that can learn from it
    (``supports_missing``)."""
    changes: dict[str, Any] = {}
    shape = data_shape(rt, spec) if spec.architectures is None or spec.epochs is None else None
    if spec.architectures is None:
        dp_field = privacy.requested(spec)
        private = msgspec.structs.replace(shape, private=dp_field is not None)
        spaces = default_spaces(rt.registries, private)
        if dp_field is not None:
            spaces = privacy.default_search(rt.registries, spaces, dp_field)
        meta = rt.storage.get_dataset_meta(spec.dataset)
        if meta.n_missing or meta.min_length is not None:  # those that learn gaps and padding
            spaces = {a: space for a, space in spaces.items()
                      if getattr(rt.registries.architectures.get(a), "supports_missing", False)}
        changes["architectures"] = list(spaces)
        changes["architecture_spaces"] = {**spaces, **spec.architecture_spaces}
    if spec.epochs is None:
        changes["epochs"] = default_epochs(shape)
        names = changes.get("architectures", spec.architectures) or []
        declared = declared_epochs(rt.registries, list(names), shape)
        if declared:  # what the job names per architecture stays
            changes["architecture_epochs"] = {**declared, **spec.architecture_epochs}
    if spec.select_metric is None and (metric := default_select_metric(rt.registries)):
        changes["select_metric"] = metric
    return msgspec.structs.replace(spec, **changes) if changes else spec


def model_name_of(rt: Runtime, spec: JobSpec) -> str:
    """The name a job registers its model under: ``model_name``, or DATASET-FAMILY when every
    architecture of the job is of one family (``h-gan``, ``h-diffusion``), else DATASET-model."""
    if spec.model_name is not None:
        return spec.model_name
    registry = rt.registries.architectures
    families = {str(getattr(registry.get(a), "family", "gan"))
                for a in spec.architectures or () if a in registry}
    return f"{spec.dataset}-{families.pop() if len(families) == 1 else 'model'}"


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
        raise BadInputError("architectures", "is empty" if spec.architectures is not None else
                            "names none and no installed architecture is a default",
                            allowed=", ".join(rt.registries.architectures.names()))
    for i, name in enumerate(spec.architectures):
        rt.registries.architectures.require(name, f"architectures[{i}]")
    registry = rt.registries.architectures
    missing.require_support([registry.get(a) for a in spec.architectures], meta.n_missing,
                            spec.dataset, meta.min_length is not None,
                            [a.name for a in registry if getattr(a, "supports_missing", False)])
    privacy.check_request(rt.registries, spec)  # a DP field for a family without DP: refused
    for p in job_form.JOB_FORM:  # the bounds the API, CLI and TUI forms derive from too
        job_form.check(p.name, getattr(spec, p.name))
    rt.registries.metrics.require(spec.select_metric, "select_metric")
    if spec.model_name is not None:
        check_name(spec.model_name, "model_name")
    else:
        check_name(model_name_of(rt, spec), "dataset")
    for arch_name, value in spec.architecture_epochs.items():
        if arch_name not in spec.architectures:
            raise BadInputError(f"architecture_epochs.{arch_name}", "is not an architecture "
                                "of the job", allowed=", ".join(spec.architectures))
        if value is None:  # the epochs field may be empty; an entry here may not
            raise BadInputError(f"architecture_epochs.{arch_name}", "is empty",
                                allowed="an integer number of epochs")
        job_form.check("epochs", value, field=f"architecture_epochs.{arch_name}")
    for arch_name, entries in spec.architecture_spaces.items():
        space = rt.registries.architectures.require(arch_name, "architecture_spaces").space
        for key, value in entries.items():
            if key not in space.names:
                raise BadInputError(f"architecture_spaces.{arch_name}.{key}", "is not a "
                                    f"parameter of {arch_name}", allowed=", ".join(space.names))
            _check_choices(space[key], value, f"architecture_spaces.{arch_name}.{key}")
    spaces = [rt.registries.architectures.get(a).space for a in spec.architectures]
    for key, value in spec.search_space.items():
        params = [s[key] for s in spaces if key in s.names]
        if not params:
            allowed = sorted({n for s in spaces for n in s.names})
            raise BadInputError(f"search_space.{key}", "is not a parameter of "
                                f"{', '.join(spec.architectures)}", allowed=", ".join(allowed))
        for p in params:
            _check_choices(p, value, f"search_space.{key}")


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
    tried: dict[str, set[str]] = {}
    for index in range(spec.num_trials):
        arch_name = spec.architectures[index % len(spec.architectures)]
        space = rt.registries.architectures.get(arch_name).space
        searched = {k: v for k, v in {**spec.architecture_spaces.get(arch_name, {}),
                                      **spec.search_space}.items() if k in space.names}
        combinations = math.prod(len(v) if isinstance(v, list) else
                                 math.inf if isinstance(v, dict) else 1
                                 for v in searched.values())
        seen = tried.setdefault(arch_name, set())
        for _ in range(64):  # redraw a repeat while an untried combination is left
            params = space.defaults()
            for key, value in searched.items():
                params[key] = _draw(space[key], value, rng)
            combination = repr(sorted(params.items()))
            if combination not in seen or len(seen) >= combinations:
                break
        seen.add(combination)
        trials.append(TrialState(trial_id=f"t{index:02d}", architecture=arch_name,
                                 config=space.validate(params),
                                 epochs=spec.architecture_epochs.get(arch_name, spec.epochs)))
    return trials


def check_trials(rt: Runtime, spec: JobSpec, trials: list[TrialState]) -> None:
    """Ask each architecture whether each drawn configuration can run on the data (its
    optional ``check``), before the job is stored: a combination that cannot run is refused
    here, naming the parameter, not found by every trial failing at its start."""
    shape = data_shape(rt, spec)
    for trial in trials:
        check = getattr(rt.registries.architectures.get(trial.architecture), "check", None)
        if callable(check):
            check(dict(trial.config), shape)


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
    """Run (or resume) a stored job to the end; blocks. Returns the final job record.

    The job is leased to this process first (owner + heartbeat, see ``leases``): a running job
    whose owner is alive is refused (409 naming the owner); a stale one is taken over, and the
    tracker runs its dead owner left open are ended as FAILED. SIGINT/SIGTERM (when this runs
    on the main thread) stop the trials and end the job as ``cancelled`` with the reason; a
    second signal does not wait for the trials."""
    from synthts_core.services import leases

    job = rt.storage.get_job(job_id)
    if job.status in TERMINAL_STATUSES and not resume:
        raise ConflictError(f"training job {job_id!r} is already {job.status}", name=job_id)
    if resume:
        refuse_finished(job)  # checked again here: it may have finished since the front end did
    stale = leases.stale_reason(job, rt.settings.job_stale_after_s)
    if job.status in leases.LIVE_STATUSES and stale is None:
        raise ConflictError(f"training job {job_id!r} is {job.status}, owned by a live process "
                            f"({owner_text(job)}); cancel it with `synthts jobs cancel "
                            f"{job_id}` or wait for it", name=job_id)
    if job.status in leases.LIVE_STATUSES and not resume:
        raise ConflictError(f"training job {job_id!r} is stale ({stale}): resume it with "
                            f"`synthts train --resume {job_id}`", name=job_id)
    owner = leases.new_owner()
    job = take_lease(rt, job, owner)
    # beat before anything that may block (ending runs while the tracker is down)
    beat = leases.Heartbeat(rt, job_id, owner.token, rt.settings.job_heartbeat_s).start()
    acquired = False
    restore: Callable[[], None] = _nothing
    try:
        if stale is not None:
            log.warning("job %s was stale (%s): taking it over", job_id, stale)
            end_open_runs(rt, job, "FAILED")
            rt.storage.update_job(job_id, if_owner=owner.token, status=job.status,
                                  error=f"resumed after its owner was lost: {stale}")
        if job.status == "cancelling":
            end_open_runs(rt, job, "KILLED")
            return rt.storage.update_job(job_id, if_owner=owner.token, status="cancelled")
        # inside the try: a job whose Ray cannot start (or import) fails, never stays queued
        from synthts_core.services import training_ray

        training_ray.acquire_ray(rt.settings)
        acquired = True
        # trials that fit the cluster and the disk, a resumable folder; records the cluster
        from synthts_core.services.cluster import prepare_job

        prepare_job(rt, job, resume)
        restore = _catch_signals(job_id)  # after ray.init, which sets its own SIGTERM handler
        _register_exit_hook()
        training_ray.ACTIVE_JOBS[job_id] = (rt, on_progress)
        leases.set_deadline(job_id, job.spec.time_limit_s)
        if rt.storage.get_job(job_id).status in ("cancelling", "cancelled"):
            # cancelled while Ray was starting: honour it, never flip back to running
            return rt.storage.update_job(job_id, if_owner=owner.token, status="cancelled")
        _prepare_tracker(rt)
        results = _fit(rt, job, resume)
        return _finish(rt, job_id, results, owner.token)
    except (Exception, JobInterrupted) as exc:
        if lease_lost(rt, job_id, owner.token):
            # another process owns the job now: its runs and its record are not ours to end
            log.warning("training job %s: lease lost to another process; stopped here "
                        "without recording anything", job_id)
            raise
        stop = leases.stop_request(job_id)
        if isinstance(exc, JobInterrupted) or (stop is not None and stop[0] == "cancel"):
            reason = stop[1] if stop else str(exc)
            log.warning("training job %s cancelled: %s", job_id, reason)
            end_open_runs(rt, rt.storage.get_job(job_id), "KILLED")
            rt.storage.update_job(job_id, if_owner=owner.token, status="cancelled",
                                  error=reason)
            raise
        msg = exc.message if isinstance(exc, SynthtsError) else f"{type(exc).__name__}: {exc}"
        log.exception("training job %s failed", job_id)
        end_open_runs(rt, rt.storage.get_job(job_id), "FAILED")
        # appends: trial errors stay
        rt.storage.update_job(job_id, if_owner=owner.token, status="failed", error=msg)
        raise
    finally:
        # each step on its own: one that fails must not skip the others
        for step in (beat.stop, restore, functools.partial(leases.forget, job_id),
                     functools.partial(sweep_staging, rt, job_id)):
            try:
                step()
            except Exception as exc:
                log.warning("job %s: cleanup step failed: %s", job_id, exc)
        if acquired:
            try:
                training_ray.ACTIVE_JOBS.pop(job_id, None)
                training_ray.release_ray()
            except Exception as exc:
                log.warning("job %s: could not release Ray: %s", job_id, exc)


def take_lease(rt: Runtime, job: TrainingJob, owner: JobOwner) -> TrainingJob:
    """Make ``owner`` the job's owner, if the owner read with ``job`` still holds it (atomic: a
    second process taking the same job at once gets a 409). The job reads running from here on
    (a cancelling one stays cancelling): a later resume of a failed or queued job sees a live
    owner and is refused too."""
    seen = job.owner.token if job.owner is not None else None
    taken = "cancelling" if job.status == "cancelling" else "running"
    return rt.storage.update_job(job.id, if_owner=seen, owner=owner, heartbeat_at=utcnow(),
                                 status=taken)


def lease_lost(rt: Runtime, job_id: str, token: str) -> bool:
    """Whether this process no longer owns the job it runs with ``token``: its heartbeat found
    the lease taken, or the record now names another owner (or none: marked failed)."""
    from synthts_core.services import leases

    stop = leases.stop_request(job_id)
    if stop is not None and stop[0] == "lost":
        return True
    try:
        owner = rt.storage.get_job(job_id).owner
    except Exception:  # storage down: the owner-checked writes will tell
        return False
    return owner is None or owner.token != token


def _nothing() -> None:
    return None


class JobInterrupted(BaseException):
    """A second SIGINT/SIGTERM: stop now, without waiting for the trials' next report."""


def _catch_signals(job_id: str) -> Callable[[], None]:
    """On the main thread: SIGINT/SIGTERM ask the job to stop (trials end at their next report,
    the job as ``cancelled`` with the signal in its errors); a second one interrupts at once.
    Returns the function that puts the previous handlers back."""
    import signal

    from synthts_core.services import leases

    if threading.current_thread() is not threading.main_thread():
        return _nothing
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")  # Tune would swallow SIGINT
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    seen: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        seen.append(signum)
        leases.request_stop(job_id, "cancel", f"cancelled: {name} received by the owner "
                                              f"process (pid {os.getpid()})")
        if len(seen) > 1:
            raise JobInterrupted(f"{name} received twice")

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            if old is None:  # a handler not set from Python: nothing to put back
                continue
            try:
                signal.signal(sig, old)
            except (TypeError, ValueError, OSError) as exc:
                log.warning("could not restore the %s handler: %s", signal.Signals(sig).name,
                            exc)

    return restore


_exit_hook_lock = threading.Lock()
_exit_hook_registered = False
EXIT_WAIT_S = 30.0  # how long a stopping server waits for its jobs' trials to stop


def _register_exit_hook() -> None:
    """Once per process: at exit (``synthts serve`` stopped by a signal, or any program that
    ran jobs in threads), stop the jobs still running here and record them as ``cancelled``.
    Registered after Ray is imported, so it runs before Ray's own exit hook shuts Ray down."""
    global _exit_hook_registered
    import atexit

    with _exit_hook_lock:
        if _exit_hook_registered:
            return
        atexit.register(stop_owned_jobs)
        _exit_hook_registered = True


def install_server_signal_handler() -> None:
    """For a server whose jobs run in threads (``synthts serve``; called on the main thread
    when the API is built). uvicorn shuts down on SIGTERM, then re-raises it with the handler it
    found: this one stops the jobs of this process (recorded ``cancelled`` with the signal),
    then lets SIGTERM end the process. Only replaces the default action, never another handler.
    Ray's own crash-signal handler would take SIGTERM from uvicorn (the server dies at once,
    its jobs left ``running``), so it is turned off for Rays this process starts."""
    import signal

    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        stop_owned_jobs(f"cancelled: SIGTERM received by the owner process (pid {os.getpid()})")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def stop_owned_jobs(reason: str | None = None) -> None:
    """Stop the jobs this process runs (their trials stop at their next report) and wait up to
    ``EXIT_WAIT_S`` for them to be recorded as ``cancelled`` with ``reason``; a job still
    running then is recorded at once (its runs end KILLED)."""
    import time

    if "synthts_core.services.training_ray" not in sys.modules:
        return  # no job ever ran here (and Ray need not be imported to know it)
    from synthts_core.services import leases, training_ray

    active = dict(training_ray.ACTIVE_JOBS)
    if not active:
        return
    reason = reason or f"cancelled: the owner process (pid {os.getpid()}) is shutting down"
    for job_id in active:
        leases.request_stop(job_id, "cancel", reason)
    deadline = time.monotonic() + EXIT_WAIT_S
    while training_ray.ACTIVE_JOBS and time.monotonic() < deadline:
        time.sleep(0.2)
    for job_id, (rt, _) in list(training_ray.ACTIVE_JOBS.items()):
        try:  # its trials did not stop in time: record it now, the process is going
            job = rt.storage.get_job(job_id)
            lost = leases.stop_request(job_id)
            if (lost is not None and lost[0] == "lost") or job.owner is None or (
                    job.owner.pid, job.owner.host) != (os.getpid(), socket.gethostname()):
                continue  # another process owns it now: its runs and record are not ours
            if job.status in leases.LIVE_STATUSES:
                end_open_runs(rt, job, "KILLED")
                trials = [t if t.status not in ("pending", "running") else
                          msgspec.structs.replace(t, status="cancelled") for t in job.trials]
                rt.storage.update_job(job_id, if_owner=job.owner.token, status="cancelled",
                                      error=reason, trials=trials)
        except Exception as exc:
            log.warning("could not record job %s as cancelled at exit: %s", job_id, exc)


def end_open_runs(rt: Runtime, job: TrainingJob, status: str) -> int:
    """End the tracker runs of a job's trials that are still open (a killed owner, stopped
    trials) as ``status`` (FAILED or KILLED). Never raises: returns how many were ended."""
    ender = getattr(rt.tracker, "end_open_runs", None)
    try:
        ended = 0
        if ender is not None:
            ended = int(ender(experiment_name(rt, job.spec), {"synthts.job": job.id}, status))
        if ender is None or status == "KILLED":
            # the runs the job recorded (trackers without a search); a cancel also relabels the
            # runs its stopped trials ended as FAILED on their way out
            for t in job.trials:
                if t.run_id and t.status in ("pending", "running", "cancelled"):
                    rt.tracker.end_run(t.run_id, status)
                    ended += 1
        return ended
    except Exception as exc:
        log.warning("job %s: could not end its open tracker runs: %s", job.id, exc)
        return 0


def experiment_name(rt: Runtime, spec: JobSpec) -> str:
    """The tracker experiment of a job's trial runs (the tracker adds its prefix)."""
    return spec.dataset


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
            "experiment": experiment_name(rt, spec)}


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


def _fit(rt: Runtime, job: TrainingJob, resume: bool) -> Any:
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
        tune.with_parameters(train_trial, context=_context(rt, job)),
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


def higher_is_better(rt: Runtime, metric: str | None, *, strict: bool = True) -> bool:
    """Whether a larger value of ``metric`` is better. An unknown metric is a ``NotFoundError``
    naming it when ``strict`` (ranking a job's trials); otherwise it reads as a distance, lower
    is better (showing a job whose metric is no longer installed)."""
    if not strict and metric not in rt.registries.metrics:
        return False
    return bool(rt.registries.metrics.get(metric).higher_is_better)


def _finish(rt: Runtime, job_id: str, results: Any, token: str) -> TrainingJob:
    """Record errors, then register the best trial by quality (unless cancelled). Every write
    checks this process still owns the job (``token``): one that lost its lease records nothing."""
    from synthts_core.services.training_ray import error_text

    if lease_lost(rt, job_id, token):
        raise ConflictError(f"training job {job_id!r}: another process took it over; this one "
                            "stopped without recording its results", name=job_id)
    job = rt.storage.get_job(job_id)
    errors = list(job.errors)
    causes = []  # what Ray said about each failed trial
    for index, result in result_indices(results):
        if result.error is not None:
            text = error_text(result.error)
            causes.append(f"trial t{index:02d}: {text}" if index is not None else text)
    errors = list(dict.fromkeys(errors + causes))
    from synthts_core.services import leases

    stop = leases.stop_request(job_id)
    # trials Tune stopped with the experiment (a cancel, a signal, the time limit) get no
    # completion callback: they are recorded as cancelled here
    stopped = [t if t.status not in ("pending", "running") else
               msgspec.structs.replace(t, status="cancelled") for t in job.trials]
    if job.status in ("cancelling", "cancelled") or (stop is not None and stop[0] == "cancel"):
        end_open_runs(rt, job, "KILLED")
        reason = {"error": stop[1]} if stop is not None and stop[0] == "cancel" else {}
        return rt.storage.update_job(job_id, if_owner=token, status="cancelled",
                                     errors=errors, trials=stopped, **reason)
    # a time limit that cut trials short fails the job, but what they learnt is registered
    # (or a trial whose worker never started: training_ray.JobRecorder._watch_starts)
    timed_out = stop[1] if stop is not None and stop[0] in ("timeout", "failed") and any(
        t.epoch < t.epochs for t in job.trials) else None
    if timed_out:
        end_open_runs(rt, job, "FAILED")
        job = rt.storage.update_job(job_id, if_owner=token, trials=stopped)
    # the real series every candidate is scored against: read once, only if something is scored
    scoring = functools.cache(lambda: _scoring_data(rt, job))
    best = _best_checkpoint(rt, job, results, scoring)
    if best is None:
        errors.append("no trial produced a checkpoint: nothing to register")
        if timed_out:  # the limit is the cause; the empty-handed note stays in the history
            return rt.storage.update_job(job_id, if_owner=token, status="failed",
                                         errors=errors, error=timed_out)
        never_ran = all(t.epoch == 0 for t in job.trials)
        if never_ran and causes:  # Ray's own words are the cause (a worker, the cluster)
            return rt.storage.update_job(job_id, if_owner=token, status="failed",
                                         errors=errors, trials=stopped,
                                         error=never_ran_text(causes))
        return rt.storage.update_job(job_id, if_owner=token, status="failed",
                                     errors=errors[:-1], error=errors[-1])
    index, checkpoint, score, scores, kept = best
    bundle = _bundle(checkpoint, job.spec.select_metric, score)
    state = job.trials[index]
    name = model_name_of(rt, job.spec)
    aliases = ["best"] if _beats_current_best(rt, job, name, score, scoring) else []
    ref = rt.tracker.register_model(name, bundle, run_id=state.run_id, aliases=aliases)
    trials = list(job.trials)
    for i, fresh in scores.items():
        trials[i] = msgspec.structs.replace(trials[i], selection_score=fresh)
    # a job cut short by its time limit may be resumed: it keeps its checkpoints
    freed = 0 if timed_out else prune_finished(results, keep={str(ck.path) for ck in kept})
    if freed:
        log.info("job %s: deleted %d superseded checkpoints", job_id, freed)
    if timed_out:
        return rt.storage.update_job(job_id, if_owner=token, status="failed", errors=errors,
                                     model=ref, best_trial=state.trial_id, trials=trials,
                                     error=timed_out)
    return rt.storage.update_job(job_id, if_owner=token, status="succeeded", errors=errors,
                                 model=ref, best_trial=state.trial_id, progress=1.0,
                                 trials=trials)


def never_ran_text(causes: list[str]) -> str:
    """The job's error when none of its trials finished an epoch: each distinct cause (what
    Ray said, or the trial's own exception)."""
    distinct = list(dict.fromkeys(causes))
    shown = "; ".join(distinct[:3]) + (f"; and {len(distinct) - 3} more" if len(distinct) > 3
                                        else "")
    return f"no trial finished an epoch: {shown}"[:2000]


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


def sweep_staging(rt: Runtime, job_id: str) -> int:
    """Delete the checkpoint staging folders (``training_trial.staging_dir``) of every job no
    process runs any more (finished, or gone from storage), ``job_id``'s once it has ended:
    what trials killed mid-write left, which a resume of their job would reuse and nothing
    else would. Returns how many job folders were deleted."""
    import shutil

    from synthts_core.services.leases import LIVE_STATUSES
    from synthts_core.services.training_trial import STAGING

    root = rt.settings.data_dir / STAGING
    if not root.is_dir():
        return 0
    freed = 0
    for folder in root.iterdir():
        # ``job_id`` too is kept while live: this process may have lost it to another owner
        try:
            if rt.storage.get_job(folder.name).status in LIVE_STATUSES:
                continue
        except NotFoundError:
            pass
        except Exception as exc:  # storage down: leave it for the next job
            log.warning("staging folder %s kept: %s", folder, exc)
            continue
        shutil.rmtree(folder, ignore_errors=True)
        freed += 1
    return freed


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
    higher = higher_is_better(rt, metric)
    from synthts_core.services.training_trial import curve_metric, curve_tiebreak, selection_key

    curve = curve_metric(rt.registries)

    candidates: list[tuple[int, Any, float, float]] = []
    for index, result in result_indices(results):
        if result.error is not None or index is None:
            continue
        pairs = [(ck, m.get(metric), curve_tiebreak(curve, m))
                 for ck, m in (result.best_checkpoints or [])]
        pairs = [(ck, float(v), float(t)) for ck, v, t in pairs
                 if isinstance(v, int | float) and _still_there(ck)]
        if not pairs:
            continue
        finite = [p for p in pairs if math.isfinite(p[1])] or pairs
        ck, score, tiebreak = (max if higher else min)(
            finite, key=lambda p: selection_key(p[1], p[2], higher))
        candidates.append((index, ck, score, tiebreak))
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
    """(the job's real training series, whether trials are ranked by their worst class);
    held-out series pick no model, as they train none."""
    from synthts_core.services.holdout import training_part

    return (training_part(rt.storage.read_dataset(job.spec.dataset,
                                                  labels=_label_indices(rt, job))),
            per_class_score(rt, job.spec))


def _label_indices(rt: Runtime, job: TrainingJob) -> list[int] | None:
    """The job's labels as indices (None: every label); a label the dataset lacks is bad input
    in ``labels``."""
    from synthts_core.services.datasets import label_indices

    if job.spec.labels is None:
        return None
    names = rt.storage.get_dataset_meta(job.spec.dataset).label_names
    return label_indices(names, job.spec.labels, field="labels")


def _beats_current_best(rt: Runtime, job: TrainingJob, name: str, score: float,
                        scoring: Callable[[], tuple[Any, bool]] | None = None) -> bool:
    """``best`` moves only to a version at least as good as the one it names, both scored the
    same way (the current best is scored again with this job's metric and data)."""
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
    better = score >= theirs if higher_is_better(rt, job.spec.select_metric) else \
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


def check_resumable(rt: Runtime, job_id: str) -> TrainingJob:
    """The job, if it may be resumed: not succeeded or cancelled, and not running under a live
    owner (``ConflictError`` says who owns it)."""
    from synthts_core.services import leases

    job = rt.storage.get_job(job_id)
    refuse_finished(job)
    if job.status in leases.LIVE_STATUSES and not leases.is_stale(
            job, rt.settings.job_stale_after_s):
        raise ConflictError(f"training job {job_id!r} is {job.status}, owned by a live process "
                            f"({owner_text(job)}); only a stale job can be resumed",
                            name=job_id)
    return job


def refuse_finished(job: TrainingJob) -> None:
    """A job that succeeded or was cancelled has nothing to resume (``ConflictError``)."""
    if job.status in ("succeeded", "cancelled"):
        raise ConflictError(f"training job {job.id!r} is {job.status}; nothing to resume",
                            name=job.id)


def resume_job(rt: Runtime, job_id: str, *,
               on_progress: Callable[[TrainingJob], None] | None = None) -> TrainingJob:
    """Continue an interrupted job from its trials' last checkpoints (blocks): the jobs
    service's ``resume``, the one way every front end resumes."""
    return rt.services.jobs.resume(job_id, on_progress=on_progress)


MAX_REASON = 500


def fail_job(rt: Runtime, job_id: str, reason: str) -> TrainingJob:
    """Mark a stale job (its owner is gone) as failed with ``reason``, ending the tracker runs
    its owner left open as FAILED. A live, queued or finished job answers ``ConflictError``."""
    from synthts_core.services import leases

    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise BadInputError("reason", "is empty" if not reason else f"has {len(reason)} "
                            "characters", allowed=f"1-{MAX_REASON} characters")
    job = rt.storage.get_job(job_id)
    if job.status not in leases.LIVE_STATUSES:
        hint = " (cancel it instead)" if job.status == "queued" else ""
        raise ConflictError(f"training job {job_id!r} is {job.status}; only a stale running "
                            f"job can be marked failed{hint}", name=job_id)
    stale = leases.stale_reason(job, rt.settings.job_stale_after_s)
    if stale is None:
        raise ConflictError(f"training job {job_id!r} is {job.status}, owned by a live process "
                            f"({owner_text(job)}); cancel it instead", name=job_id)
    end_open_runs(rt, job, "FAILED")
    seen = job.owner.token if job.owner is not None else None
    # the lease goes with it: an owner that was only late fails its next heartbeat and stops
    # without recording anything over this
    return rt.storage.update_job(job_id, if_owner=seen, status="failed", owner=None,
                                 error=f"marked failed: {reason} ({stale})")
