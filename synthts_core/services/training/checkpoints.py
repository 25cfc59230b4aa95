"""Local checkpoint folders a job no longer needs: a finished job keeps each trial's best
scored checkpoint only, and the staging folders of trials killed mid-write go once their job
has ended. Nothing grows without bound.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthts_core.errors import NotFoundError

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

log = logging.getLogger("synthts.training")


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


def still_there(checkpoint: Any) -> bool:
    """False for a local checkpoint the trial pruned (remote ones are assumed present)."""
    fs = getattr(checkpoint, "filesystem", None)
    if fs is None or getattr(fs, "type_name", "local") != "local":
        return True
    return Path(checkpoint.path).is_dir()
