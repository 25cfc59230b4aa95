"""Retention of Ray experiment folders: ``synthts jobs prune``.

A finished job's experiment folder (``SYNTHTS_RAY_STORAGE``/<job id>: Tune's state and the
checkpoints a resume starts from) is deleted once more than ``SYNTHTS_JOB_RETENTION`` finished
jobs are newer (newest by creation: pruning, heartbeats and resumes never reorder them). Only
that folder goes: never one of a queued, running, cancelling or stale job, nor of a finished job
whose owner is live (one being resumed), never a registered model (those live in the tracker, MLflow), never anything on remote storage.
The job record keeps a line saying the folder was pruned, so the job is known not to be
resumable (``cluster.prepare_job`` refuses to resume it).

Deleting follows one rule: a folder is removed only when it is an absolute path named exactly
the job's id directly inside the local Ray storage folder, holds Tune's experiment files, and is
none of ``/``, HOME, the current folder, the synthts package or a parent of any of them
(``deletable``). A folder that cannot be deleted entirely still gets the mark (part of it may be
gone) and is reported with its error.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synthts_core.domain import TERMINAL_STATUSES, utcnow
from synthts_core.errors import BadInputError
from synthts_core.services import leases

if TYPE_CHECKING:
    from synthts_core.domain import TrainingJob
    from synthts_core.runtime import Runtime

PRUNED = "experiment folder pruned"  # the mark in a job's errors (``cluster.prepare_job``)
_PAGE = 500
_PACKAGE = Path(__file__).resolve().parents[2]
# what Tune writes at the top of an experiment folder (one is enough to recognise one)
_TUNE_FILES = ("tuner.pkl", "basic-variant-state-*.json", "experiment_state-*.json")


@dataclass
class PruneItem:
    job_id: str
    status: str
    finished_at: str
    path: str
    bytes: int
    error: str | None = None  # why the folder could not be deleted (entirely)


def finished_jobs(rt: Runtime) -> list[TrainingJob]:
    """Every finished job, most recently created first (never by ``updated_at``: marking a
    pruned job, a heartbeat or a resume would move it to the front)."""
    jobs: list[TrainingJob] = []
    offset = 0
    while True:
        page = rt.storage.list_jobs(offset=offset, limit=_PAGE)
        jobs.extend(j for j in page.items if j.status in TERMINAL_STATUSES)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            break
    return sorted(jobs, key=lambda j: (j.created_at, j.id), reverse=True)


def deletable(path: Path, job_id: str, root: str | Path) -> bool:
    """True only for a local Tune experiment folder of ``job_id`` directly inside ``root`` (the
    local Ray storage folder) that is safe to delete."""
    if not path.is_absolute() or path.name != job_id or path.is_symlink() or not path.is_dir():
        return False
    root = Path(root)
    if "://" in str(root) or not root.is_absolute():
        return False
    real = Path(os.path.realpath(path))
    if real.parent != Path(os.path.realpath(root)):
        return False
    protected = {Path("/"), Path.home().resolve(), Path.cwd().resolve(), _PACKAGE}
    if any(real == p or real in p.parents for p in protected):
        return False
    return any(next(real.glob(pattern), None) is not None for pattern in _TUNE_FILES)


def folder_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def plan(rt: Runtime, keep: int | None = None) -> list[PruneItem]:
    """The experiment folders a prune would delete: those of the finished jobs beyond the
    ``keep`` most recent (default SYNTHTS_JOB_RETENTION)."""
    keep = rt.settings.job_retention if keep is None else keep
    if keep is None:
        raise BadInputError("SYNTHTS_JOB_RETENTION", "is not set",
                            allowed="a number of finished jobs to keep (or pass --keep N)")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise BadInputError("keep", f"got {keep!r}", allowed="an integer >= 0")
    root = rt.settings.ray_storage_uri
    items = []
    for job in finished_jobs(rt)[keep:]:
        if not job.experiment_path or "://" in job.experiment_path:
            continue  # never ran, or on remote storage: not ours to delete
        if leases.is_live(job, rt.settings):
            continue  # a process owns it (a resume that still reads failed): leave it
        path = Path(job.experiment_path)
        if not deletable(path, job.id, root):
            continue
        items.append(PruneItem(job_id=job.id, status=job.status,
                               finished_at=job.updated_at.isoformat(timespec="seconds"),
                               path=str(path), bytes=folder_bytes(path)))
    return items


def prune(rt: Runtime, keep: int | None = None, *, dry_run: bool = False) -> list[PruneItem]:
    """Delete the folders ``plan`` names (unless ``dry_run``) and mark their jobs."""
    items = plan(rt, keep)
    if dry_run:
        return items
    keep = rt.settings.job_retention if keep is None else keep
    root = rt.settings.ray_storage_uri
    done = []
    for item in items:
        path = Path(item.path)
        job = rt.storage.get_job(item.job_id)
        if (job.status not in TERMINAL_STATUSES or leases.is_live(job, rt.settings)
                or not deletable(path, job.id, root)):
            continue  # resumed meanwhile: leave it
        try:
            shutil.rmtree(path)
        except OSError as exc:  # part of it may be gone: still not resumable, say so
            item.error = f"{type(exc).__name__}: {exc}"
        note = (f"{PRUNED} on {utcnow().isoformat(timespec='seconds')} (retention: the "
                f"{keep} most recent finished jobs keep theirs): this job cannot be resumed")
        if item.error is not None:
            note += f" (the folder could not be deleted entirely: {item.error})"
        rt.storage.update_job(job.id, errors=[*job.errors, note])
        done.append(item)
    return done
