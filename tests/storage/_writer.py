"""Child process for the crash and concurrency tests (run as a script, not collected)."""

from __future__ import annotations

import contextlib
import sys

import numpy as np

from synthts_core.domain import Dataset, JobSpec, TrainingJob, TrialState
from synthts_core.errors import ConflictError


def backend(uri: str, chunk_bytes: int):
    """The backend for ``uri``, as the runtime would build it, with a chosen chunk size."""
    if uri.startswith("sqlite"):
        from synthts_sqlite.backend import SqliteStorage

        store = SqliteStorage(uri, chunk_bytes=chunk_bytes)
    else:
        from synthts_mongo.backend import MongoStorage

        from synthts_core.settings import Settings

        store = MongoStorage(uri, Settings(_env_file=None), chunk_bytes=chunk_bytes)
    store.open()
    return store


def crash(uri: str, n_values: int) -> None:
    """Commit a small dataset, then start a big one (the parent SIGKILLs us mid-write)."""
    store = backend(uri, 256 * 1024)
    store.create_dataset(Dataset.build("before", np.ones((2, 1, 8), np.float32)))
    values = np.random.default_rng(0).standard_normal((n_values // 1024, 1, 1024), np.float32)
    print("writing", flush=True)
    store.create_dataset(Dataset.build("big", values))
    print("finished", flush=True)


def race(uri: str, who: str, rounds: int) -> None:
    """Create datasets and hammer one shared job alongside another process doing the same."""
    store = backend(uri, 1000)
    with contextlib.suppress(ConflictError):
        store.create_job(TrainingJob(id="shared", spec=JobSpec(dataset="x")))
    rng = np.random.default_rng(abs(hash(who)) % 2**32)
    for k in range(rounds):
        values = rng.standard_normal((4, 1, 300)).astype(np.float32)
        store.create_dataset(Dataset.build(f"{who}-{k}", values, tags=[who]))
        store.update_job("shared", error=f"{who}:{k}")
        store.update_job("shared", trial=TrialState(trial_id=who, architecture="cgan", epoch=k))
    store.close()


if __name__ == "__main__":
    if sys.argv[1] == "crash":
        crash(sys.argv[2], int(sys.argv[3]))
    else:
        race(sys.argv[2], sys.argv[3], int(sys.argv[4]))
