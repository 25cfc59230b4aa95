"""Ray plumbing for the training service: connecting, and the driver-side hooks of a job.

Only imported when a job runs (it imports ray). The callback and the stopper hold nothing but
the job id: Tune pickles them into the experiment folder, so a live storage connection (or a
password) must not travel with them. They look the driver's ``Runtime`` up in ``ACTIVE_JOBS``,
which ``run_job`` fills before ``fit()``.
"""

from __future__ import annotations

import logging
import threading
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

    with _lock:
        if not ray.is_initialized():
            # SYNTHTS_RAY_AUTH_* into the driver's environment, then a check that fails in
            # seconds with the real cause (no server, not Ray, token missing or wrong)
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
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"[:2000]
    text = str(error or "trial failed")
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip()[:2000] if lines else "trial failed"
