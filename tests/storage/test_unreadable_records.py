"""A stored record that cannot be read (issue 13) never takes a listing down, on both backends:
the bad row is listed with its error, reading it alone is a ``CorruptDataError`` naming it,
and it can still be deleted. Normalisation that would make such a record is refused on
write."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

import pymongo
import pytest
from pymongo.uri_parser import parse_uri

from synthts_core.domain import (
    Dataset,
    DatasetQuery,
    JobSpec,
    Normalisation,
    TrainingJob,
)
from synthts_core.errors import BadInputError
from synthts_core.storage_support import CorruptDataError
from synthts_core.testing.conformance.storage import make_dataset

BROKEN_NORMALISATION = {"method": "zscore", "offset": [0.0], "scale": [None]}


def _break_sqlite(storage) -> Callable[[str], None]:
    def corrupt(name: str) -> None:
        with sqlite3.connect(storage.path) as conn:
            meta = json.loads(conn.execute("SELECT meta FROM datasets WHERE name = ?",
                                           (name,)).fetchone()[0])
            meta["normalisation"] = BROKEN_NORMALISATION
            conn.execute("UPDATE datasets SET meta = ? WHERE name = ?", (json.dumps(meta), name))
            conn.execute("UPDATE jobs SET doc = '{\"id\": 1}' WHERE id = 'bad-job'")
    return corrupt


def _break_mongo(uri: str) -> Callable[[str], None]:
    from synthts_mongo.documents import DATASETS, JOBS

    db = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)[parse_uri(uri)["database"]]

    def corrupt(name: str) -> None:
        db[DATASETS].update_one({"name": name},
                                {"$set": {"metadata.normalisation": BROKEN_NORMALISATION}})
        db[JOBS].update_one({"_id": "bad-job"}, {"$set": {"doc": {"id": 1}}})
    return corrupt


@pytest.fixture(params=["sqlite", "mongo"])
def storage_and_corrupt(request):
    if request.param == "sqlite":
        storage = request.getfixturevalue("sqlite_storage")
        return storage, _break_sqlite(storage)
    storage = request.getfixturevalue("mongo_storage")
    return storage, _break_mongo(request.getfixturevalue("fresh_mongo_uri"))


def test_one_unreadable_row_is_reported_not_fatal(storage_and_corrupt):
    storage, corrupt = storage_and_corrupt
    storage.create_dataset(make_dataset("good", n=4, length=8))
    storage.create_dataset(make_dataset("bad", n=6, length=8))
    storage.create_job(TrainingJob(id="bad-job", spec=JobSpec(dataset="bad")))
    storage.create_job(TrainingJob(id="good-job", spec=JobSpec(dataset="good")))
    corrupt("bad")

    from synthts_core.storage_records import UnreadableDatasetMeta

    page = storage.list_datasets(DatasetQuery(sort="name"))
    assert [m.name for m in page.items] == ["bad", "good"] and page.total == 2
    bad, good = page.items
    assert isinstance(bad, UnreadableDatasetMeta) and "cannot be read" in bad.error
    assert bad.n_series == 6
    assert not isinstance(good, UnreadableDatasetMeta) and good.n_series == 4
    with pytest.raises(CorruptDataError, match="'bad'"):
        storage.get_dataset_meta("bad")
    with pytest.raises(CorruptDataError, match="'bad'"):
        storage.read_dataset("bad")
    assert storage.read_dataset("good").values.shape == (4, 1, 8)

    jobs = {j.id: j for j in storage.list_jobs().items}
    assert jobs["bad-job"].status == "failed" and "cannot be read" in jobs["bad-job"].errors[0]
    assert jobs["good-job"].status == "queued"
    with pytest.raises(CorruptDataError, match="bad-job"):
        storage.get_job("bad-job")

    storage.delete_dataset("bad")
    assert [m.name for m in storage.list_datasets(DatasetQuery()).items] == ["good"]


@pytest.mark.parametrize("backend", ["sqlite_storage", "mongo_storage"])
@pytest.mark.parametrize("scale", [float("inf"), float("-inf"), float("nan"), 0.0])
def test_non_finite_normalisation_is_refused(request, backend, scale):
    storage = request.getfixturevalue(backend)
    ds = make_dataset("norm", n=2, length=8)
    bad = Dataset.build("norm", ds.values, normalisation=Normalisation(
        method="zscore", offset=[0.0], scale=[scale]))
    with pytest.raises(BadInputError, match=r"normalisation\.scale\[0\]"):
        storage.create_dataset(bad)
    assert storage.list_datasets(DatasetQuery()).items == []
