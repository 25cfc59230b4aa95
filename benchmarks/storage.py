"""Write and read the seed's 10 x 1000 x 1024 dataset on each storage backend, side by side
with the seed's own approach (values as BSON arrays of doubles, one Mongo document per class,
through pymongo), in one run on the same machine and the same Mongo server.

    .venv/bin/python benchmarks/storage.py [--repeats 3]

Mongo is a SecantusDB server started here on a free loopback port, or the server named by
``SYNTHTS_BENCH_MONGO_URI``. Prints a JSON list of ``{backend, write_s, read_s}`` (best of
``--repeats``; every read is checked against what was written).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

N_CLASSES, PER_CLASS, LENGTH = 10, 1000, 1024


def seed_dataset(seed: int = 0):
    from synthts_core.domain import Dataset

    rng = np.random.default_rng(seed)
    values = rng.standard_normal((N_CLASSES * PER_CLASS, 1, LENGTH), dtype=np.float32)
    labels = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    return Dataset.build("seed-harmonics", values, labels, [f"class_{i}" for i in range(N_CLASSES)],
                         generators=["sine"], tags=["benchmark"])


def best_of(repeats: int, write: Callable[[], None], read: Callable[[], np.ndarray],
            reset: Callable[[], None], expected: np.ndarray) -> tuple[float, float]:
    writes, reads = [], []
    for _ in range(repeats):
        reset()
        start = time.perf_counter()
        write()
        writes.append(time.perf_counter() - start)
        start = time.perf_counter()
        values = read()
        reads.append(time.perf_counter() - start)
        if not np.array_equal(values, expected):
            raise SystemExit("read back values differ from what was written")
    reset()
    return min(writes), min(reads)


def bench_backend(store, ds, repeats: int) -> tuple[float, float]:
    from synthts_core.errors import NotFoundError

    def reset() -> None:
        with contextlib.suppress(NotFoundError):
            store.delete_dataset(ds.meta.name)

    return best_of(repeats, lambda: store.create_dataset(ds),
                   lambda: store.read_dataset(ds.meta.name).values, reset, ds.values)


def bench_seed_arrays(uri: str, ds, repeats: int) -> tuple[float, float]:
    """The seed's storage: each class a document whose values are nested lists of doubles."""
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    coll = client[f"bench_seed_{uuid.uuid4().hex[:8]}"]["datasets"]

    def write() -> None:
        for c in range(N_CLASSES):
            rows = ds.values[ds.labels == c, 0, :]
            coll.insert_one({"name": ds.meta.name, "class": c,
                             "params": {"label": ds.meta.label_names[c]},
                             "values": rows.astype(np.float64).tolist()})

    def read() -> np.ndarray:
        docs = sorted(coll.find({"name": ds.meta.name}), key=lambda d: d["class"])
        return np.concatenate([np.asarray(d["values"], dtype=np.float32)
                               for d in docs])[:, None, :]

    try:
        return best_of(repeats, write, read, lambda: coll.delete_many({}), ds.values)
    finally:
        client.drop_database(coll.database.name)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from synthts_mongo.backend import MongoStorage
    from synthts_sqlite.backend import SqliteStorage

    from synthts_core.settings import Settings
    from synthts_core.testing.mongo import SecantusServer, with_database

    ds = seed_dataset()
    results = []
    with tempfile.TemporaryDirectory(prefix="synthts-bench-") as tmp:
        store = SqliteStorage(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.open()
        write_s, read_s = bench_backend(store, ds, args.repeats)
        store.close()
        results.append({"backend": "sqlite", "write_s": round(write_s, 3),
                        "read_s": round(read_s, 3)})

        server = None
        uri = os.environ.get("SYNTHTS_BENCH_MONGO_URI")
        if not uri:
            server = SecantusServer(Path(tmp) / "secantus")
            server.start()
            uri = server.uri
        try:
            mongo = MongoStorage(with_database(uri, f"bench_{uuid.uuid4().hex[:8]}"),
                                 Settings(_env_file=None))
            mongo.open()
            write_s, read_s = bench_backend(mongo, ds, args.repeats)
            mongo.docs.Schema._get_db().client.drop_database(mongo.database)
            mongo.close()
            results.append({"backend": "mongo", "write_s": round(write_s, 3),
                            "read_s": round(read_s, 3)})
            write_s, read_s = bench_seed_arrays(uri, ds, args.repeats)
            results.append({"backend": "seed-arrays", "write_s": round(write_s, 3),
                            "read_s": round(read_s, 3)})
        finally:
            if server is not None:
                server.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
