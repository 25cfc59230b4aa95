"""Ray plumbing for the training service: connecting, and the driver-side hooks of a job.

Only imported when a job runs (it imports ray). The callback and the stopper hold nothing but
the job id: Tune pickles them into the experiment folder, so a live storage connection (or a
password) must not travel with them. They look the driver's ``Runtime`` up in ``ACTIVE_JOBS``,
which ``run_job`` fills before ``fit()``.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import ray
from ray import tune

from synthts_core.domain import TrialState
from synthts_core.errors import BackendUnavailableError

log = logging.getLogger("synthts.training")

ACTIVE_JOBS: dict[str, Any] = {}  # job id -> (Runtime, on_progress callable | None)
_lock = threading.Lock()  # guards the Ray user count
_record_lock = threading.Lock()  # serialises trial-state writes of concurrent jobs
_users = 0
_started_here = False


def acquire_ray(settings: Any) -> None:
    """Connect to ``SYNTHTS_RAY_ADDRESS`` or start a local Ray in-process (loopback only, no
    dashboard). Counted, so concurrent jobs share one Ray and the last one out stops it; a Ray
    somebody else started (a test fixture, a notebook) is used and never shut down."""
    global _users, _started_here
    from synthts_core.services import cluster

    with _lock, cluster.AUTH_LOCK:  # no /ready probe changes the auth config meanwhile
        if not ray.is_initialized():
            # SYNTHTS_RAY_AUTH_* into the driver's environment, then a check that fails in
            # seconds with the real cause (no server, not Ray, token missing, wrong or not
            # expected by the cluster)
            cluster.apply_auth(settings)
            if settings.ray_address:
                cluster.preflight(settings.ray_address)
            try:
                if settings.ray_address:
                    ray.init(address=settings.ray_address, log_to_driver=False,
                             configure_logging=False)
                else:
                    ray.init(num_cpus=settings.ray_num_cpus, include_dashboard=False,
                             log_to_driver=False, configure_logging=False,
                             _node_ip_address="127.0.0.1")
            except Exception as exc:
                where = settings.ray_address or "local Ray"
                raise BackendUnavailableError(
                    "Ray", f"{where}: {cluster.first_line(exc)}",
                    hint=cluster.HINT_ADDRESS if settings.ray_address else None) from None
            _started_here = True
        _users += 1


def release_ray() -> None:
    global _users, _started_here
    with _lock:
        _users = max(0, _users - 1)
        if _users == 0 and _started_here:
            ray.shutdown()
            _started_here = False


def _job_rt(job_id: str) -> tuple[Any, Any]:
    return ACTIVE_JOBS.get(job_id, (None, None))


def _trial_index(trial: Any) -> int:
    return int(trial.config["trial"]["index"])


class CancelStopper(tune.Stopper):
    """Stops every trial at its next report once the job's stored status is ``cancelling``
    (set by ``cancel_job`` from any process: CLI, API, another terminal)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id

    def __call__(self, trial_id: str, result: dict) -> bool:
        return self.stop_all()

    def stop_all(self) -> bool:
        from synthts_core.services import leases

        if leases.stop_request(self.job_id) is not None:  # a signal, a shutdown, the time limit
            return True
        rt, _ = _job_rt(self.job_id)
        if rt is None:
            return False
        try:
            return rt.storage.get_job(self.job_id).status in ("cancelling", "cancelled")
        except Exception as exc:
            log.warning("could not read job %s status: %s", self.job_id, exc)
            return False


class JobRecorder(tune.Callback):
    """Writes each trial's state (epoch, metrics, history, error, run id) and the job's progress
    to storage as results arrive, so API, TUI and a restarted process see them."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id

    def _update(self, trial: Any, **changes: Any) -> None:
        rt, on_progress = _job_rt(self.job_id)
        if rt is None:
            return
        with _record_lock:
            job = rt.storage.get_job(self.job_id)
            trials = list(job.trials)
            index = _trial_index(trial)
            if index >= len(trials):
                return
            state = trials[index]
            fields = {f: getattr(state, f) for f in state.__struct_fields__}
            fields.update(changes)
            trials[index] = TrialState(**fields)
            done = sum(t.epoch for t in trials)
            total = max(1, sum(t.epochs for t in trials))
            job = rt.storage.update_job(self.job_id, trial=trials[index],
                                        progress=round(min(1.0, done / total), 4))
        if on_progress is not None:
            try:
                on_progress(job)
            except Exception as exc:
                log.warning("progress display failed: %s", exc)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._update(trial, status="running")

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        metrics = {k: float(v) for k, v in result.items()
                   if k in _metric_keys(result) and isinstance(v, int | float)}
        rt, _ = _job_rt(self.job_id)
        history: list[dict[str, float]] = []
        if rt is not None:
            old = rt.storage.get_job(self.job_id).trials[_trial_index(trial)].history
            epoch = int(result["epoch"])
            history = [h for h in old if h.get("epoch", 0) < epoch]
        history.append({"epoch": float(result["epoch"]), **metrics,
                        "resumed_from_epoch": float(result.get("resumed_from_epoch", 0))})
        self._update(trial, status="running", epoch=int(result["epoch"]), metrics=metrics,
                     history=history, run_id=result.get("run_id") or None,
                     checkpoint=str(trial.path) if getattr(trial, "path", None) else None)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        from synthts_core.services import leases

        rt, _ = _job_rt(self.job_id)
        cancelling = leases.stop_request(self.job_id) is not None or (
            rt is not None and rt.storage.get_job(self.job_id).status in (
                "cancelling", "cancelled"))
        state = rt.storage.get_job(self.job_id).trials[_trial_index(trial)] if rt else None
        finished = state is not None and state.epoch >= state.epochs
        self._update(trial, status="succeeded" if finished or not cancelling else "cancelled")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._update(trial, status="failed", error=trial_error_text(trial))

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        try:
            self._watch_starts(trials)
        except Exception as exc:  # a watch that fails must not fail the job
            log.warning("job %s: could not check its trials' workers: %s", self.job_id, exc)

    def _watch_starts(self, trials: list) -> None:
        """Fail the job when a trial's Ray worker has not started
        ``ray_worker_start_timeout_s`` after Tune placed the trial (its resources reserved,
        its actor requested: the actor is ``PENDING_CREATION`` in the GCS). Ray retries a
        worker that dies at start for ever, telling the driver nothing, so the job would
        wait for ever. Tune marks a trial running only once its actor is up, so the actors
        are read from the GCS (this driver's job's), not from the trials."""
        now = time.monotonic()
        if now - getattr(self, "_checked_at", 0.0) < WATCH_EVERY_S:
            return
        self._checked_at = now
        rt, _ = _job_rt(self.job_id)
        if rt is None:
            return
        limit = float(rt.settings.ray_worker_start_timeout_s)
        pending = pending_trial_actors()
        waiting: dict[str, float] = getattr(self, "_waiting", {})
        self._waiting = {a: waiting.get(a, now) for a in pending}  # first seen pending
        late = [a for a, since in self._waiting.items() if now - since >= limit]
        if not late:
            return
        from synthts_core.services import leases

        waiting_trials = [t for t in trials if t.status == "PENDING"]
        which = (f"trial t{_trial_index(waiting_trials[0]):02d}" if len(waiting_trials) == 1
                 else f"{len(late)} trial(s)")
        reason = (f"{which}: Ray placed it but its worker did not start within {limit:g} s "
                  "(actor PENDING_CREATION; SYNTHTS_RAY_WORKER_START_TIMEOUT_S): "
                  + worker_start_failure())
        log.error("job %s: %s", self.job_id, reason)
        if len(waiting_trials) == 1:  # the one placed trial is the one that did not start
            self._update(waiting_trials[0], status="failed", error=reason)
        leases.request_stop(self.job_id, "failed", reason)


WATCH_EVERY_S = 2.0  # how often the driver looks at its placed trials' workers
TRIAL_ACTOR_CLASS = "ImplicitFunc"  # Tune's actor for a function trainable


def pending_trial_actors() -> list[str]:
    """Ids of this driver's trial actors that Ray is still creating (``PENDING_CREATION``:
    their worker has not registered), read from the GCS without the dashboard that
    ``ray.util.state`` would need."""
    from ray._private.state import actors

    table = actors(job_id=ray.JobID.from_hex(ray.get_runtime_context().get_job_id()),
                   actor_state_name="PENDING_CREATION")
    return [a for a, info in table.items()
            if str(info.get("ActorClassName", "")).endswith(TRIAL_ACTOR_CLASS)]


def _telling_line(lines: list[str]) -> str:
    """The line of a worker's stderr that says why it died: the last exception line, else the
    last line."""
    errors = [ln for ln in lines if "Error" in ln or "Exception" in ln]
    return (errors or lines)[-1]


def worker_start_failure() -> str:
    """What the cluster's logs say about workers that died at start, for each node whose log
    folder this machine can read (a node on another machine: where to look there): the
    interpreter's fatal error, which a worker dying before it can redirect its output leaves
    in ``raylet.err``, else the last error line of the newest non-empty ``worker-*.err``."""
    said: list[str] = []
    elsewhere: list[str] = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        socket_name = str(node.get("RayletSocketName") or "")
        if not socket_name:
            continue
        logs = Path(socket_name).parent.parent / "logs"
        if not logs.is_dir():
            elsewhere.append(f"{logs}/raylet.err on node {node.get('NodeManagerAddress')}")
            continue
        errs = sorted((p for p in logs.glob("worker-*.err") if p.stat().st_size > 0),
                      key=lambda p: p.stat().st_mtime)
        for path in [logs / "raylet.err", *errs[-1:]]:
            lines = _tail_lines(path)
            fatal = [ln for ln in lines if ln.startswith("Fatal Python error")]
            if fatal or (lines and path.name != "raylet.err"):
                said.append(f"{(fatal or [_telling_line(lines)])[-1][:300]} (in {path})")
                break
    if said:
        return "the worker died at start: " + "; ".join(said[:2])
    if elsewhere:
        return "no worker log here; see " + "; ".join(elsewhere[:2])
    return "Ray's worker logs on the nodes say why"


def _tail_lines(path: Path, limit: int = 64 * 1024) -> list[str]:
    """The non-blank lines of the last ``limit`` bytes of a log file ([] if unreadable)."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - limit))
            text = fh.read().decode(errors="replace")
    except OSError:
        return []
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _metric_keys(result: dict) -> set[str]:
    skip = {"epoch", "trial_index", "resumed_from_epoch", "run_id", "training_iteration",
            "timestamp", "time_this_iter_s", "time_total_s", "time_since_restore",
            "iterations_since_restore", "pid", "date", "hostname", "node_ip", "done",
            "timesteps_total", "episodes_total", "experiment_tag", "checkpoint_dir_name",
            "should_checkpoint", "config", "trial_id"}
    return {k for k in result if k not in skip}


def trial_error_text(trial: Any) -> str:
    """The exception's type and message, not the whole remote traceback. Read from the trial's
    local error files: the copies in the storage folder are synced later."""
    import cloudpickle

    error: Any = None
    pickled, text_file = getattr(trial, "pickled_error_file", None), getattr(trial, "error_file",
                                                                            None)
    try:
        if pickled and Path(pickled).exists():
            error = cloudpickle.loads(Path(pickled).read_bytes())
        elif text_file and Path(text_file).exists():
            error = Path(text_file).read_text()
    except Exception as exc:  # an unreadable error file: say what we can
        log.debug("could not read the error of trial %s: %s", trial, exc)
    return error_text(error)


def error_text(error: Any) -> str:
    """One line: a trial's own exception (type and message), else what Ray said and the
    exception under it ("Failed to set up runtime environment. (ValueError: Could not find
    Conda executable at conda.)"). Ray's errors about a worker (``ActorDiedError``: "The actor died unexpectedly before finishing this
    task. ... The actor never ran - it was cancelled before it started running.") keep their
    first and last sentences, without the indented id lines between them; a traceback's text
    keeps its last line (the exception)."""
    cause = getattr(error, "cause", None)
    own = f"{type(cause).__name__}: {cause}" if isinstance(cause, BaseException) else None
    text = str(error or "trial failed")
    lines = [ln.strip() for ln in text.strip().splitlines()
             if ln.strip() and not ln[:1].isspace()]
    if own is not None:
        if type(error).__name__.startswith("RayTaskError") or not lines:
            return own[:2000]  # the trial's code raised: its exception is the cause
        # Ray failed around the trial (RuntimeEnvSetupError): what Ray said, then why
        return f"{type(error).__name__}: {lines[0]} ({own})"[:2000]
    if not lines:
        return "trial failed"
    if isinstance(error, BaseException) and not lines[0].startswith("Traceback"):
        said = lines[0] if len(lines) == 1 else f"{lines[0]} {lines[-1]}"
        return f"{type(error).__name__}: {said}"[:2000]
    # Tune's error.txt (an error it could not pickle): "Failure # 1 (occurred at ...)", then
    # the error's text, e.g. "Failed to set up runtime environment." ... "ValueError: ..."
    lines = [ln for ln in lines if not ln.startswith("Failure # ")] or lines
    if len(lines) > 1 and not lines[0].startswith("Traceback"):
        return f"{lines[0]} ({lines[-1]})"[:2000]
    return lines[-1][:2000]
