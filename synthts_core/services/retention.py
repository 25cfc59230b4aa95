"""Retention of Ray experiment folders: ``synthts jobs prune``.

A finished job's experiment folder (``SYNTHTS_RAY_STORAGE``/<job id>: Tune's state and the
checkpoints a resume starts from) is deleted once more than ``SYNTHTS_JOB_RETENTION`` finished
jobs are newer. Only that folder goes: never one of a queued, running, cancelling or stale job,
never a registered model (those live in the tracker, MLflow), never anything on remote storage.
The job record keeps a line saying the folder was pruned, so the job is known not to be
resumable (``cluster.prepare_job`` refuses to resume it).

Deleting follows one rule: a folder is removed only when it is an absolute path named exactly
the job's id, holds Tune's experiment files, and is none of ``/``, HOME, the current folder,
the synthts package or a parent of any of them (``deletable``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synthts_core.domain import TERMINAL_STATUSES, utcnow
from synthts_core.errors import BadInputError

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


def finished_jobs(rt: Runtime) -> list[TrainingJob]:
    """Every finished job, most recently finished (last updated) first."""
    jobs: list[TrainingJob] = []
    offset = 0
    while True:
        page = rt.storage.list_jobs(offset=offset, limit=_PAGE)
        jobs.extend(j for j in page.items if j.status in TERMINAL_STATUSES)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            break
    return sorted(jobs, key=lambda j: (j.updated_at, j.id), reverse=True)


def deletable(path: Path, job_id: str) -> bool:
    """True only for a local Tune experiment folder of ``job_id`` that is safe to delete."""
    if not path.is_absolute() or path.name != job_id or path.is_symlink() or not path.is_dir():
        return False
    real = Path(os.path.realpath(path))
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
    items = []
    for job in finished_jobs(rt)[keep:]:
        if not job.experiment_path or "://" in job.experiment_path:
            continue  # never ran, or on remote storage: not ours to delete
        path = Path(job.experiment_path)
        if not deletable(path, job.id):
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
    for item in items:
        path = Path(item.path)
        job = rt.storage.get_job(item.job_id)
        if job.status not in TERMINAL_STATUSES or not deletable(path, job.id):
            continue  # resumed meanwhile: leave it
        shutil.rmtree(path)
        note = (f"{PRUNED} on {utcnow().isoformat(timespec='seconds')} (retention: the "
                f"{keep} most recent finished jobs keep theirs): this job cannot be resumed")
        rt.storage.update_job(job.id, errors=[*job.errors, note])
    return items
