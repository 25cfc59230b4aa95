"""Dataset metadata and jobs are BSON sub-documents a Mongo user can query (schema 2), and a
database written in schema 1 (JSON strings) is migrated in place: in batches, idempotent, and
safe to run again after a crash. Against the real SecantusDB server."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import msgspec
import pymongo
import pytest
from pymongo.uri_parser import parse_uri
from synthts_mongo import migrations
from synthts_mongo.backend import MongoStorage
from synthts_mongo.documents import DATASETS, JOBS, SCHEMA, SCHEMA_VERSION

from synthts_core.domain import DatasetQuery, JobSpec, TrainingJob, TrialState
from synthts_core.errors import BackendUnavailableError
from synthts_core.settings import Settings
from synthts_core.storage_records import UnreadableDatasetMeta
from synthts_core.storage_support import CorruptDataError
from synthts_core.testing.conformance.storage import make_dataset

pytestmark = pytest.mark.mongo

# keys that come from users (spec parameters, search spaces, metric names): BSON refuses '.'
# and a leading '$' in keys, '%' is the escape character itself
AWKWARD = {"a.b": 1, "$where": "x", "100%": [1, {"x.y": 2}], "plain": {"k": 2**70}}


def _db(uri: str) -> pymongo.database.Database:
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)[parse_uri(uri)["database"]]


def _job(job_id: str, dataset: str = "sines") -> TrainingJob:
    trial = TrialState(trial_id="t00", architecture="cgan", config={"lr.scale": 0.5},
                       metrics={"mmd": float("nan"), "loss.g": 1.5}, epoch=2, epochs=2,
                       history=[{"epoch": 1.0, "mmd": float("inf")}, {"epoch": 2.0, "mmd": 0.2}])
    return TrainingJob(id=job_id, spec=JobSpec(dataset=dataset, search_space=dict(AWKWARD)),
                       trials=[trial], created_at=datetime(2024, 5, 1, 12, 0, 0, 123456, UTC))


def _same_job(a: TrainingJob, b: TrainingJob) -> None:
    """Equal, NaN included (NaN != NaN, so compare the encoded form)."""
    assert msgspec.json.encode(a) == msgspec.json.encode(b)
    assert math.isnan(b.trials[0].metrics["mmd"]) and math.isinf(b.trials[0].history[0]["mmd"])


def test_records_are_queryable_sub_documents(mongo_storage, fresh_mongo_uri) -> None:
    ds = make_dataset("awkward", spec={"generator": "sines", "params": AWKWARD})
    mongo_storage.create_dataset(ds)
    job = _job("job-1")
    mongo_storage.create_job(job)
    mongo_storage.create_job(_job("job-2", dataset="other"))
    db = _db(fresh_mongo_uri)

    # what a Mongo user would type
    assert [d["_id"] for d in db[JOBS].find({"doc.spec.dataset": "sines"})] == ["job-1"]
    assert db[JOBS].count_documents({"doc.trials.metrics.loss%2Eg": 1.5}) == 2
    stored = db[DATASETS].find_one({"metadata.spec.generator": "sines"})
    assert stored is not None and stored["metadata"]["n_series"] == 24
    assert set(stored["metadata"]["spec"]["params"]) == {"a%2Eb", "%24where", "100%25", "plain"}
    assert stored["metadata"]["spec"]["params"]["plain"]["k"] == {"%int": str(2**70)}
    assert "meta_json" not in stored and isinstance(db[JOBS].find_one()["doc"], dict)

    # and back, exactly (user keys, a 70-bit integer, NaN, inf, microseconds)
    meta = mongo_storage.get_dataset_meta("awkward")
    assert meta == ds.meta and meta.spec["params"] == AWKWARD
    _same_job(job, mongo_storage.get_job("job-1"))
    updated = mongo_storage.update_job("job-1", status="running", progress=0.5)
    assert updated.spec.search_space == AWKWARD
    assert db[JOBS].find_one({"_id": "job-1"})["doc"]["progress"] == 0.5
    listed = {j.id: j for j in mongo_storage.list_jobs().items}
    assert listed["job-1"].spec.search_space == AWKWARD
    renamed = mongo_storage.update_dataset("awkward", new_name="renamed", tags=["x"])
    assert renamed.spec == ds.meta.spec
    assert db[DATASETS].find_one({"name": "renamed"})["metadata"]["tags"] == ["x"]
    assert mongo_storage.list_datasets(DatasetQuery()).items[0].spec["params"] == AWKWARD


def _write_schema_1(uri: str, storage: MongoStorage, n_datasets: int, n_jobs: int) -> None:
    """A database as synthts wrote it before schema 2, written with pymongo: the dataset
    metadata document and the job documents with JSON strings (chunks are unchanged)."""
    db = _db(uri)
    for i in range(n_datasets):
        meta = storage.create_dataset(make_dataset(
            f"old-{i:02d}", n=6, length=8, spec={"params": {"f.hz": i}}, tags=["old"]))
        current = db[DATASETS].find_one({"name": meta.name})
        db[DATASETS].replace_one({"_id": current["_id"]}, {
            "name": meta.name, "created_at": meta.created_at, "n_series": meta.n_series,
            "source": meta.source, "tags": meta.tags, "generators": meta.generators,
            "label_names": meta.label_names, "upload_id": current["upload_id"],
            "streams": current["streams"], "meta_json": msgspec.json.encode(meta).decode()})
    for i in range(n_jobs):
        job = TrainingJob(id=f"old-job-{i:02d}", spec=JobSpec(
            dataset=f"old-{i:02d}", search_space={"lr.base": [0.1, 0.2]}))
        db[JOBS].insert_one({"_id": job.id, "status": job.status, "created_at": job.created_at,
                             "updated_at": job.updated_at, "rev": 0,
                             "doc": msgspec.json.encode(job).decode()})
    db[JOBS].insert_one({"_id": "broken", "status": "queued", "created_at": datetime.now(UTC),
                         "updated_at": datetime.now(UTC), "rev": 0, "doc": "{not json"})
    db[SCHEMA].update_one({"_id": "storage"}, {"$set": {"version": 1}})


def _check_migrated(storage: MongoStorage, uri: str, n_datasets: int, n_jobs: int) -> None:
    db = _db(uri)
    assert db[SCHEMA].find_one({"_id": "storage"})["version"] == SCHEMA_VERSION == 3
    assert db[DATASETS].count_documents({"meta_json": {"$exists": True}}) == 0
    assert db[DATASETS].count_documents({"metadata.spec.params.f%2Ehz": 3}) == 1
    assert db[JOBS].count_documents({"doc.spec.dataset": "old-03"}) == 1
    for i in range(n_datasets):
        meta = storage.get_dataset_meta(f"old-{i:02d}")
        assert meta.spec == {"params": {"f.hz": i}} and meta.tags == ["old"]
        assert storage.read_dataset(f"old-{i:02d}").values.shape == (6, 1, 8)
    for i in range(n_jobs):
        assert storage.get_job(f"old-job-{i:02d}").spec.search_space == {"lr.base": [0.1, 0.2]}
    # the record whose JSON cannot be read stays as it was: listed with its error, named alone
    with pytest.raises(CorruptDataError, match="broken"):
        storage.get_job("broken")
    assert db[JOBS].find_one({"_id": "broken"})["doc"] == "{not json"
    assert storage.list_jobs(limit=100).total == n_jobs + 1


def test_schema_1_is_migrated_in_place_in_batches(fresh_mongo_uri, monkeypatch) -> None:
    n_datasets, n_jobs = 7, 7
    settings = Settings(_env_file=None)
    first = MongoStorage(fresh_mongo_uri, settings)
    first.open()
    _write_schema_1(fresh_mongo_uri, first, n_datasets, n_jobs)
    first.close()
    assert "metadata" not in _db(fresh_mongo_uri)[DATASETS].find_one()

    monkeypatch.setattr(migrations, "MIGRATE_BATCH", 3)  # several batches per collection
    store = MongoStorage(fresh_mongo_uri, settings)
    store.open()  # migrates
    try:
        _check_migrated(store, fresh_mongo_uri, n_datasets, n_jobs)
        # the migrated records are ordinary ones now
        store.update_dataset("old-01", description="kept")
        assert store.get_dataset_meta("old-01").description == "kept"
        store.update_job("old-job-01", status="running")
    finally:
        store.close()
    again = MongoStorage(fresh_mongo_uri, settings)
    again.open()  # nothing left to do
    try:
        assert again.schema_version() == 3
        assert again.get_dataset_meta("old-01").description == "kept"
        assert again.get_job("old-job-01").status == "running"
    finally:
        again.close()


def test_a_migration_that_crashed_half_way_is_finished_by_the_next_open(fresh_mongo_uri,
                                                                        monkeypatch,
                                                                        tmp_path) -> None:
    """The crash is caused for real in the middle of the migration: the write of the third
    batch fails because the server goes away, the process gives up, then a new open runs."""
    from synthts_core.testing.mongo import SecantusServer

    settings = Settings(_env_file=None, mongo_timeout_ms=1500)
    first = MongoStorage(fresh_mongo_uri, settings)
    first.open()
    _write_schema_1(fresh_mongo_uri, first, 6, 6)
    first.close()

    # a server of its own holding a copy, so it can be stopped mid-migration
    server = SecantusServer(tmp_path / "data")
    server.start()
    try:
        uri = f"{server.uri}/migrate"
        _copy_database(fresh_mongo_uri, uri)
        batches = 0
        original = pymongo.collection.Collection.bulk_write

        # only picks the moment: the server is really stopped, the write really fails
        def bulk_write_then_die(coll, ops, *args, **kwargs):
            nonlocal batches
            batches += 1
            if batches == 3:
                server.stop()  # the server dies between two batches of the migration
            return original(coll, ops, *args, **kwargs)

        monkeypatch.setattr(migrations, "MIGRATE_BATCH", 2)
        monkeypatch.setattr(pymongo.collection.Collection, "bulk_write", bulk_write_then_die)
        with pytest.raises(BackendUnavailableError, match="did not answer"):
            MongoStorage(uri, settings).open()
        monkeypatch.setattr(pymongo.collection.Collection, "bulk_write", original)
        server.start()
        db = _db(uri)
        assert db[SCHEMA].find_one({"_id": "storage"})["version"] == 1  # not finished
        done = db[DATASETS].count_documents({"metadata": {"$exists": True}})
        assert 0 < done < 6  # some records were converted before the crash
        store = MongoStorage(uri, settings)
        store.open()
        try:
            _check_migrated(store, uri, 6, 6)
        finally:
            store.close()
    finally:
        server.stop()


def _copy_database(source: str, target: str) -> None:
    src, dst = _db(source), _db(target)
    for name in src.list_collection_names():
        rows = list(src[name].find())
        if rows:
            dst[name].insert_many(rows)


def test_an_unreadable_migrated_record_is_listed_with_its_error(mongo_storage,
                                                                fresh_mongo_uri) -> None:
    mongo_storage.create_dataset(make_dataset("fine", n=4, length=8))
    mongo_storage.create_dataset(make_dataset("odd", n=5, length=8))
    _db(fresh_mongo_uri)[DATASETS].update_one({"name": "odd"},
                                              {"$set": {"metadata.n_series": "five"}})
    page = mongo_storage.list_datasets(DatasetQuery(sort="name"))
    assert [type(m) is UnreadableDatasetMeta for m in page.items] == [False, True]
    assert page.items[1].n_series == 5 and "cannot be read" in page.items[1].error
    with pytest.raises(CorruptDataError, match="'odd'"):
        mongo_storage.get_dataset_meta("odd")


def test_a_record_too_large_for_bson_stays_schema_1(fresh_mongo_uri, caplog) -> None:
    """Its JSON string fits in a document; the sub-document would not (each of 2M zeros takes
    2 bytes of JSON but about 13 of BSON): the migration leaves it and finishes."""
    settings = Settings(_env_file=None)
    first = MongoStorage(fresh_mongo_uri, settings)
    first.open()
    _write_schema_1(fresh_mongo_uri, first, 2, 2)
    first.close()
    big = TrainingJob(id="big", spec=JobSpec(dataset="old-00", search_space={"x": [0] * 2_000_000}))
    db = _db(fresh_mongo_uri)
    db[JOBS].insert_one({"_id": "big", "status": "queued", "created_at": big.created_at,
                         "updated_at": big.updated_at, "rev": 0,
                         "doc": msgspec.json.encode(big).decode()})
    store = MongoStorage(fresh_mongo_uri, settings)
    store.open()  # migrates all but the big one
    try:
        assert db[SCHEMA].find_one({"_id": "storage"})["version"] == SCHEMA_VERSION
        assert db[DATASETS].count_documents({"meta_json": {"$exists": True}}) == 0
        assert db[JOBS].count_documents({"doc.spec.dataset": "old-01"}) == 1
        assert store.get_job("old-job-01").spec.search_space == {"lr.base": [0.1, 0.2]}
        assert isinstance(db[JOBS].find_one({"_id": "big"})["doc"], str)
        assert "'big': left as schema 1" in caplog.text
        assert len(store.get_job("big").spec.search_space["x"]) == 2_000_000
    finally:
        store.close()
