"""Job leases: who runs a job, whether it is still alive, and why a job was told to stop.

A running job records its owner (host, pid, the process's start time and a token drawn per run)
and a heartbeat that a thread of the owner refreshes every ``SYNTHTS_JOB_HEARTBEAT_S``. A job
that says it is running (or cancelling) is **stale** when its heartbeat is older than
``SYNTHTS_JOB_STALE_AFTER_S``, or when its owner ran on this host and that process is gone.
Staleness is derived on every read, never stored: a job whose owner comes back is live again.

Stop requests of this process (a signal, the server shutting down, a job's time limit) are kept
here too: the Tune stopper reads them, so trials stop at their next report and the driver
records why.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from synthts_core.domain import JobOwner, TrainingJob, utcnow

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime
    from synthts_core.settings import Settings

log = logging.getLogger("synthts.training")

LIVE_STATUSES = ("running", "cancelling")
_HOST = socket.gethostname()

# job id -> (kind, reason): "cancel" (a signal, a shutdown), "timeout" (the job's time limit) or
# "lost" (another process took the lease over: stop without writing anything)
_STOPS: dict[str, tuple[str, str]] = {}
_DEADLINES: dict[str, tuple[float, int]] = {}  # job id -> (monotonic deadline, limit in s)
_lock = threading.Lock()


# ----------------------------------------------------------------------------- owners


def _start_time(pid: int) -> float | None:
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:
        return None


def new_owner() -> JobOwner:
    """This process as a job's owner, with a fresh token."""
    pid = os.getpid()
    return JobOwner(host=_HOST, pid=pid, token=uuid.uuid4().hex, started_at=_start_time(pid))


def owner_alive(owner: JobOwner) -> bool | None:
    """False when the owner ran on this host and its process is gone (or the pid now belongs
    to another process, or is a zombie); None when that cannot be told (another host)."""
    if owner.host != _HOST:
        return None
    try:
        import psutil

        proc = psutil.Process(owner.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        started = proc.create_time()
    except Exception:  # no such process (or psutil cannot see it)
        return False
    return owner.started_at is None or abs(started - owner.started_at) < 1.0


def stale_reason(job: TrainingJob, stale_after_s: float, now: datetime | None = None
                 ) -> str | None:
    """Why a running or cancelling job is stale, or None when it is not."""
    if job.status not in LIVE_STATUSES:
        return None
    if job.heartbeat_at is None:
        return "it has no heartbeat (its owner never recorded one)"
    if job.owner is not None and owner_alive(job.owner) is False:
        return f"its owner process (pid {job.owner.pid} on {job.owner.host}) is gone"
    age = ((now or utcnow()) - job.heartbeat_at).total_seconds()
    if age > stale_after_s:
        return f"its last heartbeat was {age:.0f} s ago (stale after {stale_after_s:g} s)"
    return None


def is_stale(job: TrainingJob, stale_after_s: float, now: datetime | None = None) -> bool:
    return stale_reason(job, stale_after_s, now) is not None


def is_live(job: TrainingJob, settings: Settings, now: datetime | None = None) -> bool:
    """Whether a process may be working on ``job`` now, whatever its status says: it has an
    owner whose heartbeat is fresher than ``SYNTHTS_JOB_STALE_AFTER_S`` and whose process (when
    it ran on this host) is still there. A job being resumed is live while it still reads
    ``failed``; a job that just finished stays live until its last heartbeat ages."""
    if job.owner is None or job.heartbeat_at is None:
        return False
    age = ((now or utcnow()) - job.heartbeat_at).total_seconds()
    if age > settings.job_stale_after_s:
        return False
    return owner_alive(job.owner) is not False


# ----------------------------------------------------------------------------- heartbeat


class Heartbeat:
    """A daemon thread that refreshes a job's heartbeat while this process owns it. If another
    process took the lease (it found this one stale), the beat stops and so does the job."""

    def __init__(self, rt: Runtime, job_id: str, token: str, interval_s: float) -> None:
        self.rt, self.job_id, self.token, self.interval_s = rt, job_id, token, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"synthts-heartbeat-{job_id}",
                                        daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _loop(self) -> None:
        from synthts_core.errors import ConflictError

        while not self._stop.wait(self.interval_s):
            try:
                self.rt.storage.update_job(self.job_id, if_owner=self.token,
                                           heartbeat_at=utcnow())
            except ConflictError as exc:
                if self._stop.is_set():
                    return  # the run is over (its stop requests forgotten): leave none behind
                log.error("job %s: lease lost (%s); stopping it here", self.job_id, exc)
                # "lost", not "cancel": this process must neither end the job's runs nor
                # write its status (they belong to the new owner now)
                request_stop(self.job_id, "lost", "another process took the job over")
                return
            except Exception as exc:  # storage down for a moment: try again next beat
                log.warning("job %s: heartbeat failed: %s", self.job_id, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


# ----------------------------------------------------------------------------- stop requests


def request_stop(job_id: str, kind: str, reason: str) -> None:
    """Ask a job this process runs to stop at its trials' next report. The first reason wins,
    except a lost lease ("lost"), which overrides any other: that process records nothing."""
    with _lock:
        if kind == "lost":
            _STOPS[job_id] = (kind, reason)
        else:
            _STOPS.setdefault(job_id, (kind, reason))


def stop_request(job_id: str) -> tuple[str, str] | None:
    """(kind, reason) of a stop asked for this job, checking its time limit first."""
    with _lock:
        deadline = _DEADLINES.get(job_id)
        if deadline is not None and time.monotonic() >= deadline[0]:
            _STOPS.setdefault(job_id, ("timeout", f"time limit of {deadline[1]} s reached"))
        return _STOPS.get(job_id)


def set_deadline(job_id: str, limit_s: int | None) -> None:
    with _lock:
        if limit_s is None:
            _DEADLINES.pop(job_id, None)
        else:
            _DEADLINES[job_id] = (time.monotonic() + limit_s, int(limit_s))


def forget(job_id: str) -> None:
    """Drop a finished run's stop request and deadline (nothing here grows without bound)."""
    with _lock:
        _STOPS.pop(job_id, None)
        _DEADLINES.pop(job_id, None)
