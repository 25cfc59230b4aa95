"""Process signals: SIGINT/SIGTERM of a process that runs a job in the foreground cancel it
(``catch_signals``); a server whose jobs run in threads cancels them on SIGTERM
(``install_server_signal_handler``) and at exit (``register_exit_hook``). Either way the jobs
end ``cancelled`` with the signal as their error, and their tracker runs KILLED, instead of
being left ``running``.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from synthts_core.services import leases
from synthts_core.services.training.tracker_runs import end_open_runs

log = logging.getLogger("synthts.training")


def restore_nothing() -> None:
    """What ``catch_signals`` returns off the main thread, where it replaces no handler."""
    return None


class JobInterrupted(BaseException):
    """A second SIGINT/SIGTERM: stop now, without waiting for the trials' next report."""


def catch_signals(job_id: str) -> Callable[[], None]:
    """On the main thread: SIGINT/SIGTERM ask the job to stop (trials end at their next report,
    the job as ``cancelled`` with the signal in its errors); a second one interrupts at once.
    Returns the function that puts the previous handlers back."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return restore_nothing
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


def register_exit_hook() -> None:
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
    from synthts_core.services import training_ray

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
