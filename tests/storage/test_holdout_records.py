"""Held-out splits (issue 22) on both backends: a record written before splits existed (no
``holdout`` in its stored metadata) still reads, as a dataset without a split."""

from __future__ import annotations

import json
import sqlite3

import pymongo
import pytest
from pymongo.uri_parser import parse_uri

from synthts_core.domain import DatasetQuery, HoldoutSplit
from synthts_core.testing.conformance.storage import make_dataset


def _drop_sqlite(storage, name: str) -> None:
    with sqlite3.connect(storage.path) as conn:
        meta = json.loads(conn.execute("SELECT meta FROM datasets WHERE name = ?",
                                       (name,)).fetchone()[0])
        del meta["holdout"]
        conn.execute("UPDATE datasets SET meta = ? WHERE name = ?", (json.dumps(meta), name))


def _drop_mongo(uri: str, name: str) -> None:
    from synthts_mongo.documents import DATASETS

    db = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)[parse_uri(uri)["database"]]
    result = db[DATASETS].update_one({"name": name}, {"$unset": {"metadata.holdout": ""}})
    assert result.modified_count == 1


@pytest.mark.parametrize("backend", ["sqlite", "mongo"])
def test_a_record_from_before_splits_reads_without_one(request, backend):
    storage = request.getfixturevalue(f"{backend}_storage")
    ds = make_dataset("older", holdout=HoldoutSplit(series=[2, 3], how="file", source="t.ts"))
    storage.create_dataset(ds)
    if backend == "sqlite":
        _drop_sqlite(storage, "older")
    else:
        _drop_mongo(request.getfixturevalue("fresh_mongo_uri"), "older")
    assert storage.get_dataset_meta("older").holdout is None
    back = storage.read_dataset("older")
    assert back.meta.holdout is None and back.meta.n_holdout == 0
    assert back.meta.checksum == ds.meta.checksum
    assert storage.list_datasets(DatasetQuery()).items[0].holdout is None
