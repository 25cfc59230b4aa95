"""Databases written before exact round trips (issue 24) held each import normalised,
``(imported - offset) / scale`` per channel as float32, with that normalisation in its metadata,
and every read mapped the values back. Opening one with this synthts converts them once, in
both backends: the values become what those reads returned (real units, float32), the checksum
is of them, the metadata says the values were migrated and names the old checksum (models that
learned the dataset record it), and later opens change nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pymongo
import pytest
from pymongo.uri_parser import parse_uri

from synthts_core.domain import Dataset, Normalisation, checksum
from synthts_core.normalisation import in_units
from synthts_core.services.model_loading import dataset_units
from synthts_core.settings import Settings
from synthts_core.storage_support import VALUES_LAYOUT, CorruptDataError
from synthts_core.testing.conformance.storage import make_dataset
from tests.storage.conftest import SMALL_CHUNK

REAL = np.random.default_rng(24).normal(size=(30, 3, 17)) * \
    np.array([7.07, 0.25, 2.0])[None, :, None] + np.array([2.55, -300.0, 1e3])[None, :, None]
LABELS = np.arange(30) % 3


def stored_before_issue_24(name: str, real: np.ndarray, method: str, **meta: Any) -> Dataset:
    """A dataset as synthts stored an import before issue 24: its ``normalise`` step (float64
    statistics, values normalised into float32) and ``Dataset.build`` of the result."""
    values = np.asarray(real, np.float64)
    if method == "zscore":
        offset, scale = values.mean(axis=(0, 2)), values.std(axis=(0, 2))
    else:
        offset = values.min(axis=(0, 2))
        scale = values.max(axis=(0, 2)) - offset
    scale = np.where(scale >= np.finfo(np.float32).tiny, scale, 1.0)
    out = np.empty(values.shape, np.float32)
    np.subtract(values, offset[None, :, None], out=out, casting="same_kind")
    out /= scale[None, :, None].astype(np.float32)
    norm = Normalisation(method=method, offset=offset.tolist(),  # type: ignore[arg-type]
                         scale=scale.tolist())
    return Dataset.build(name, out, source="imported", normalisation=norm, **meta)


def what_reads_returned(old: Dataset) -> np.ndarray:
    """What every read of ``old`` answered before issue 24 (``units.to_real`` then)."""
    norm = old.meta.normalisation
    return (old.values * np.asarray(norm.scale)[None, :, None]
            + np.asarray(norm.offset)[None, :, None]).astype(np.float32)


# ------------------------------------------------------------------------------ backends


class Backend:
    """How a test opens one backend and turns what it wrote into an older synthts's layout."""

    def __init__(self, kind: str, uri: str) -> None:
        self.kind, self.uri = kind, uri

    def open(self) -> Any:
        if self.kind == "sqlite":
            from synthts_sqlite.backend import SqliteStorage

            store = SqliteStorage(self.uri, chunk_bytes=SMALL_CHUNK)
        else:
            from synthts_mongo.backend import MongoStorage

            store = MongoStorage(self.uri, Settings(_env_file=None), chunk_bytes=SMALL_CHUNK)
        store.open()
        return store

    def make_old(self) -> None:
        """The database as the previous synthts left it: SQLite schema 1 (no values_layout
        column), Mongo schema 2 (no values_layout field)."""
        if self.kind == "sqlite":
            with sqlite3.connect(Path(self.uri.removeprefix("sqlite:///"))) as conn:
                conn.execute("ALTER TABLE datasets DROP COLUMN values_layout")
                conn.execute("UPDATE synthts_schema SET value = '1' WHERE key = 'version'")
            return
        from synthts_mongo.documents import DATASETS, SCHEMA

        db = self.db()
        db[DATASETS].update_many({}, {"$unset": {"values_layout": ""}})
        db[SCHEMA].update_one({"_id": "storage"}, {"$set": {"version": 2}})

    def db(self) -> Any:
        return pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=5000)[
            parse_uri(self.uri)["database"]]

    def layouts(self) -> list[int]:
        if self.kind == "sqlite":
            with sqlite3.connect(Path(self.uri.removeprefix("sqlite:///"))) as conn:
                return [r[0] for r in conn.execute("SELECT values_layout FROM datasets")]
        from synthts_mongo.documents import DATASETS

        return [d.get("values_layout") for d in self.db()[DATASETS].find()]

    def corrupt_values(self, name: str) -> None:
        """Flip bytes of the first values chunk of ``name``, keeping its stored digest."""
        if self.kind == "sqlite":
            with sqlite3.connect(Path(self.uri.removeprefix("sqlite:///"))) as conn:
                conn.execute("UPDATE dataset_chunks SET data = zeroblob(length(data)) WHERE "
                             "stream = 'values' AND idx = 0 AND dataset_id = (SELECT id FROM "
                             "datasets WHERE name = ?)", (name,))
            return
        from synthts_mongo.documents import CHUNKS, DATASETS

        db = self.db()
        upload = db[DATASETS].find_one({"name": name})["upload_id"]
        chunk = db[CHUNKS].find_one({"upload_id": upload, "stream": "values", "idx": 0})
        db[CHUNKS].update_one({"_id": chunk["_id"]},
                              {"$set": {"data": bytes(len(chunk["data"]))}})


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", request.getfixturevalue("sqlite_uri"))
    else:
        yield Backend("mongo", request.getfixturevalue("fresh_mongo_uri"))


def write_old(backend: Backend, *datasets: Dataset) -> None:
    store = backend.open()
    for ds in datasets:
        store.create_dataset(ds)
    store.close()
    backend.make_old()


def reopened(backend: Backend, check: Callable[[Any], None]) -> None:
    store = backend.open()
    try:
        check(store)
    finally:
        store.close()


# ------------------------------------------------------------------------------ tests


def test_old_normalised_values_are_migrated_once_to_what_reads_returned(backend) -> None:
    zscored = stored_before_issue_24("plant", REAL, "zscore", labels=LABELS,
                                     label_names=["idle", "busy", "off"])
    constant = REAL[:8].copy()
    constant[:, 1] = 5.0  # a constant channel: scale 1
    times = np.cumsum(np.random.default_rng(1).uniform(0.5, 1.5, (8, 17)), axis=1)
    minmaxed = stored_before_issue_24("irregular", constant, "minmax", times=times)
    generated = make_dataset("generated", n=6, length=9)  # no normalisation: nothing to do
    write_old(backend, zscored, minmaxed, generated)

    first: dict[str, Any] = {}

    def check(store: Any) -> None:
        for old in (zscored, minmaxed):
            real = what_reads_returned(old)
            got = store.read_dataset(old.meta.name)
            np.testing.assert_array_equal(got.values.view(np.uint32), real.view(np.uint32))
            meta = got.meta
            assert meta.checksum == checksum(real, old.labels, old.times) != old.meta.checksum
            assert meta.migrated is not None
            assert meta.migrated.previous_checksum == old.meta.checksum
            assert meta.normalisation == old.meta.normalisation  # kept for normalised reads
            assert store.get_dataset_meta(old.meta.name) == meta
            first.setdefault(old.meta.name, meta)
            # sliced reads (chunk digests) and the normalised view agree with the new values
            part = store.read_dataset(old.meta.name, series=[5, 2], channels=[1])
            np.testing.assert_array_equal(part.values, real[[5, 2]][:, [1]])
            # ... to float32's resolution of the real values (300 +- 0.25: 1.2e-4 normalised)
            np.testing.assert_allclose(in_units(got.values, meta.normalisation, "normalised"),
                                       old.values, atol=5e-4)
        np.testing.assert_allclose(what_reads_returned(zscored), REAL, rtol=1e-6, atol=1e-5)
        plain = store.read_dataset("generated")
        assert plain.meta == generated.meta and plain.meta.migrated is None
        np.testing.assert_array_equal(plain.values, generated.values)
        labelled = store.read_dataset("plant", labels=["busy"])
        np.testing.assert_array_equal(labelled.values,
                                      what_reads_returned(zscored)[LABELS == 1])

    reopened(backend, check)
    assert backend.layouts() == [VALUES_LAYOUT] * 3

    def check_stable(store: Any) -> None:  # a second open converts nothing again
        for old in (zscored, minmaxed):
            got = store.read_dataset(old.meta.name)
            assert got.meta == first[old.meta.name]
            np.testing.assert_array_equal(got.values, what_reads_returned(old))
        store.update_dataset("plant", tags=["kept"])
        assert store.get_dataset_meta("plant").migrated == first["plant"].migrated

    reopened(backend, check_stable)
    if backend.kind == "mongo":  # the old chunks are gone, only the published ones remain
        from synthts_mongo.documents import CHUNKS, DATASETS

        db = backend.db()
        uploads = {d["upload_id"] for d in db[DATASETS].find()}
        assert set(db[CHUNKS].distinct("upload_id")) == uploads


def test_a_model_that_learned_the_old_values_still_answers_in_real_units(backend) -> None:
    """A model trained before the migration learned the normalised values: it names the old
    checksum, so its output is normalised and ``in_units("real")`` maps it through the
    dataset's normalisation. One trained after learned the real values."""
    old = stored_before_issue_24("plant", REAL, "zscore")
    write_old(backend, old)

    def check(store: Any) -> None:
        rt = SimpleNamespace(storage=store)
        meta = store.get_dataset_meta("plant")
        before = {"dataset": {"name": "plant", "checksum": old.meta.checksum}}
        after = {"dataset": {"name": "plant", "checksum": meta.checksum}}
        for config, generates in ((before, "normalised"), (after, "real")):
            norm, answers_in = dataset_units(rt, config)  # type: ignore[arg-type]
            assert answers_in == generates
            assert norm.scale == old.meta.normalisation.scale

    reopened(backend, check)


def test_an_unreadable_old_dataset_is_left_and_the_rest_migrate(backend, caplog) -> None:
    write_old(backend, stored_before_issue_24("good", REAL[:6], "zscore"),
              stored_before_issue_24("bad", REAL[6:12], "minmax"))
    backend.corrupt_values("bad")

    def check(store: Any) -> None:
        assert store.read_dataset("good").meta.migrated is not None
        with pytest.raises(CorruptDataError):
            store.read_dataset("bad")
        assert store.get_dataset_meta("bad").migrated is None

    reopened(backend, check)
    assert "left in its old values layout" in caplog.text
    assert sorted(backend.layouts(), key=lambda x: x or 0) == [None if backend.kind == "mongo"
                                                             else 1, VALUES_LAYOUT]
