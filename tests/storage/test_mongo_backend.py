"""What only the Mongo backend can show: chunk documents, crashes, a server that goes away and
comes back, several processes, credentials and the schema version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import bson
import numpy as np
import pymongo
import pytest
from pymongo.uri_parser import parse_uri
from synthts_mongo.backend import MongoStorage
from synthts_mongo.connection import connection_options
from synthts_mongo.documents import CHUNKS, DATASETS, SCHEMA, SCHEMA_VERSION

from synthts_core.domain import Dataset, DatasetQuery
from synthts_core.errors import BackendUnavailableError, NotFoundError, SynthtsError
from synthts_core.ports import free_port
from synthts_core.runtime import Runtime
from synthts_core.settings import Settings
from synthts_core.storage_support import CorruptDataError
from synthts_core.testing.conformance.storage import make_dataset
from synthts_core.testing.mongo import SecantusServer

pytestmark = pytest.mark.mongo
WRITER = str(Path(__file__).with_name("_writer.py"))


def _db(uri: str) -> pymongo.database.Database:
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)[parse_uri(uri)["database"]]


def test_runtime_picks_mongo_for_a_mongodb_uri(fresh_mongo_uri: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, storage=fresh_mongo_uri, _env_file=None)
    with Runtime(settings) as rt:
        assert isinstance(rt.storage, MongoStorage)
        rt.storage.create_dataset(make_dataset("via-runtime"))
        assert rt.storage.get_dataset_meta("via-runtime").n_series == 24
    assert not (tmp_path / "synthts.db").exists()


def test_values_live_in_binary_chunks_not_in_the_metadata(mongo_storage, fresh_mongo_uri) -> None:
    ds = make_dataset("binary", n=30, length=40)
    mongo_storage.create_dataset(ds)
    db = _db(fresh_mongo_uri)
    meta_doc = db[DATASETS].find_one({"name": "binary"})
    assert "values" not in meta_doc and len(bson.encode(meta_doc["metadata"])) < 2000
    assert meta_doc["metadata"]["n_series"] == 30 and "meta_json" not in meta_doc
    chunks = list(db[CHUNKS].find({"upload_id": meta_doc["upload_id"], "stream": "values"}))
    assert len(chunks) == -(-ds.values.nbytes // 1000)
    assert all(isinstance(c["data"], bytes) and len(c["data"]) <= 1000 for c in chunks)
    assert db[SCHEMA].find_one({"_id": "storage"})["version"] == SCHEMA_VERSION == 3
    indexes = {tuple(i["key"]): i.get("unique", False) for i in db[DATASETS].list_indexes()}
    assert indexes[("name",)] is True
    assert {("created_at",), ("tags",), ("generators",), ("label_names",)} <= set(indexes)


def test_corrupt_chunk_is_detected(mongo_storage, fresh_mongo_uri) -> None:
    ds = make_dataset("fragile", n=30, length=40)
    mongo_storage.create_dataset(ds)
    chunks = _db(fresh_mongo_uri)[CHUNKS]
    doc = chunks.find_one({"stream": "values", "idx": 1})
    data = bytearray(doc["data"])
    data[10] ^= 0xFF
    chunks.update_one({"_id": doc["_id"]}, {"$set": {"data": bytes(data)}})
    with pytest.raises(CorruptDataError, match="fragile"):
        mongo_storage.read_dataset("fragile")
    with pytest.raises(CorruptDataError, match="chunk 1"):
        mongo_storage.read_dataset("fragile", series=[7])
    np.testing.assert_array_equal(mongo_storage.read_dataset("fragile", series=[20]).values,
                                  ds.values[[20]])


def test_newer_schema_is_refused(mongo_storage, fresh_mongo_uri) -> None:
    _db(fresh_mongo_uri)[SCHEMA].update_one({"_id": "storage"}, {"$set": {"version": 99}})
    other = MongoStorage(fresh_mongo_uri, Settings(_env_file=None))
    with pytest.raises(SynthtsError, match="schema 99"):
        other.open()


def test_credentials_come_from_settings_unless_the_uri_has_them() -> None:
    settings = Settings(mongo_username="svc", mongo_password="s3cret", mongo_timeout_ms=1500,
                        _env_file=None)
    db, options = connection_options("mongodb://db.example:27017/prod", settings, 1500)
    assert db == "prod"
    assert (options["username"], options["password"]) == ("svc", "s3cret")
    assert options["serverSelectionTimeoutMS"] == options["connectTimeoutMS"] == 1500
    _, options = connection_options("mongodb://me:pw@db.example/prod", settings, 1500)
    assert "username" not in options
    assert connection_options("mongodb://db.example", settings, 1500)[0] == "synthts"
    store = MongoStorage("mongodb://me:pw@db.example/prod", settings)
    assert "pw" not in store.safe_uri


def test_sigkill_mid_write_leaves_no_visible_dataset(fresh_mongo_uri: str, mongo_storage) -> None:
    """A real crash: the child is killed after some of its chunks reached the server."""
    chunks = _db(fresh_mongo_uri)[CHUNKS]
    child = subprocess.Popen([sys.executable, WRITER, "crash", fresh_mongo_uri, str(24_000_000)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        before = chunks.count_documents({})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and chunks.count_documents({}) <= before:
            assert child.poll() is None, "the writer finished before it could be interrupted"
            time.sleep(0.01)
        assert child.poll() is None
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    assert [m.name for m in mongo_storage.list_datasets(DatasetQuery()).items] == ["before"]
    with pytest.raises(NotFoundError):
        mongo_storage.read_dataset("big")
    assert chunks.count_documents({}) > before, "the crash left no chunks: nothing was tested"
    mongo_storage.sweep_orphans(older_than=timedelta(0))
    assert chunks.count_documents({}) == before
    np.testing.assert_array_equal(mongo_storage.read_dataset("before").values, 1.0)
    mongo_storage.create_dataset(Dataset.build("big", np.zeros((3, 1, 4), np.float32)))
    assert mongo_storage.read_dataset("big").values.shape == (3, 1, 4)


def test_two_processes_writing_at_once_lose_nothing(fresh_mongo_uri: str, mongo_storage) -> None:
    rounds = 10
    children = [subprocess.Popen([sys.executable, WRITER, "race", fresh_mongo_uri, who,
                                  str(rounds)]) for who in ("left", "right")]
    for child in children:
        assert child.wait(180) == 0
    for who in ("left", "right"):
        page = mongo_storage.list_datasets(DatasetQuery(tags=[who], limit=100))
        assert page.total == rounds
        for meta in page.items:
            mongo_storage.read_dataset(meta.name).verify()
    job = mongo_storage.get_job("shared")
    assert sorted(job.errors) == sorted(f"{w}:{k}" for w in ("left", "right") for k in range(rounds))
    assert {t.trial_id: t.epoch for t in job.trials} == {"left": rounds - 1, "right": rounds - 1}


def test_down_server_is_unavailable_quickly_and_recovers(tmp_path: Path) -> None:
    """Stops and restarts a server of its own (same port, same data)."""
    server = SecantusServer(tmp_path / "data")
    server.start()
    settings = Settings(mongo_timeout_ms=1000, _env_file=None)
    store = MongoStorage(f"{server.uri}/recovery", settings)
    try:
        store.open()
        store.create_dataset(make_dataset("survivor"))
        server.stop()
        for call in (store.ping, lambda: store.get_dataset_meta("survivor"),
                     lambda: store.create_dataset(make_dataset("during-outage"))):
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError, match="did not answer"):
                call()
            assert time.monotonic() - started < 15
        fresh = MongoStorage(f"{server.uri}/recovery", settings)
        with pytest.raises(BackendUnavailableError):
            fresh.open()
        server.start()
        store.ping()
        assert store.get_dataset_meta("survivor").n_series == 24
        assert [m.name for m in store.list_datasets(DatasetQuery()).items] == ["survivor"]
        store.create_dataset(make_dataset("after-outage"))
    finally:
        store.close()
        server.stop()


def test_nothing_listens_is_unavailable_not_a_hang() -> None:
    store = MongoStorage(f"mongodb://127.0.0.1:{free_port()}/x",
                         Settings(mongo_timeout_ms=500, _env_file=None))
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="MongoDB storage unavailable"):
        store.open()
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_hundred_million_values_round_trip(fresh_mongo_uri: str) -> None:
    from tests.storage.test_sqlite_backend import check_hundred_million

    store = MongoStorage(fresh_mongo_uri, Settings(_env_file=None))
    store.open()
    try:
        check_hundred_million(store)
    finally:
        store.close()
