"""The embedded default storage: one SQLite file, shared safely by the API, the CLI and workers.

WAL mode lets readers run while one writer writes; every write is one transaction, so a crash
leaves either the whole dataset or nothing. Arrays are chunk rows of raw little-endian bytes
(see ``synthts_core.storage_support``); metadata is msgspec JSON beside indexed columns used by
filters and sorting. Only parameterised SQL: names and filters never become query text.

Each dataset row records its values layout (``storage_support.VALUES_LAYOUT``): rows written by
a synthts that stored normalised values are converted to the values as imported when a
backend opens the file (``migrate_values``), one row per transaction, so a crash or a second
process opening at the same time only leaves rows for the next open.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import msgspec

from synthts_core.domain import (
    Dataset,
    DatasetMeta,
    DatasetQuery,
    Page,
    TrainingJob,
    check_name,
)
from synthts_core.errors import (
    BackendUnavailableError,
    BadInputError,
    ConflictError,
    NotFoundError,
    SynthtsError,
)
from synthts_core.storage_records import decode_job, decode_meta, listed_job, listed_meta
from synthts_core.storage_support import (
    DEFAULT_CHUNK_BYTES,
    VALUES_LAYOUT,
    CorruptDataError,
    Stream,
    apply_job_changes,
    as_imported_values,
    check_paging,
    check_query,
    check_storable,
    dataset_arrays,
    dataset_changes,
    digest,
    iter_chunks,
    layout,
    read_selected,
)

log = logging.getLogger("synthts.storage.sqlite")

SCHEMA_VERSION = 2
"""1: the first layout. 2: ``datasets.values_layout`` (rows of schema 1 read as layout 1, the
normalised values ``migrate_values`` converts)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS synthts_schema (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    n_series INTEGER NOT NULL,
    source TEXT NOT NULL,
    streams TEXT NOT NULL,
    meta TEXT NOT NULL,
    values_layout INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS datasets_created_at ON datasets (created_at);
CREATE INDEX IF NOT EXISTS datasets_n_series ON datasets (n_series);
CREATE TABLE IF NOT EXISTS dataset_tags (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    tag TEXT NOT NULL, PRIMARY KEY (dataset_id, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dataset_tags_tag ON dataset_tags (tag);
CREATE TABLE IF NOT EXISTS dataset_generators (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    generator TEXT NOT NULL, PRIMARY KEY (dataset_id, generator)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dataset_generators_generator ON dataset_generators (generator);
CREATE TABLE IF NOT EXISTS dataset_labels (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    label TEXT NOT NULL, PRIMARY KEY (dataset_id, label)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dataset_labels_label ON dataset_labels (label);
CREATE TABLE IF NOT EXISTS dataset_chunks (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    stream TEXT NOT NULL,
    idx INTEGER NOT NULL,
    digest TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (dataset_id, stream, idx));
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_status_updated ON jobs (status, updated_at);
CREATE INDEX IF NOT EXISTS jobs_updated_at ON jobs (updated_at);
CREATE INDEX IF NOT EXISTS jobs_created_at ON jobs (created_at);
"""

SORT_SQL = {
    "name": "d.name ASC", "-name": "d.name DESC",
    "created_at": "d.created_at ASC, d.id ASC", "-created_at": "d.created_at DESC, d.id DESC",
    "n_series": "d.n_series ASC, d.name ASC", "-n_series": "d.n_series DESC, d.name ASC",
}
"""Fixed ORDER BY fragments keyed by the (validated) sort value: never user text."""

_encode = msgspec.json.encode


def _from_timestamp(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


def path_from_uri(uri: str) -> tuple[Path, dict[str, str]]:
    """``sqlite:///relative.db`` or ``sqlite:////absolute/file.db``, optional ``?timeout=30``."""
    if not uri.startswith("sqlite:///"):
        raise BadInputError("SYNTHTS_STORAGE", f"got {uri!r}",
                            allowed="sqlite:///relative/path.db or sqlite:////absolute/path.db")
    rest = uri[len("sqlite:///"):]
    rest, _, query = rest.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    return Path(rest), options


class SqliteStorage:
    """A ``StorageBackend`` on one SQLite file; one connection per thread, all closed together."""

    def __init__(self, uri: str, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 timeout_s: float | None = None) -> None:
        self.uri = uri
        self.path, options = path_from_uri(uri)
        self.chunk_bytes = int(options.get("chunk_bytes", chunk_bytes))
        self.timeout_s = float(options.get("timeout", timeout_s if timeout_s is not None else 60.0))
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._opened = False

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_size_limit = 67108864")
        except sqlite3.Error as exc:
            raise BackendUnavailableError("SQLite storage", f"cannot open {self.path}: {exc}",
                                          hint="check the path and its permissions") from exc
        with self._lock:
            self._all.append(conn)
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        if not self._opened:
            raise SynthtsError("SQLite storage is not open: call open() first")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def _tx(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction; IMMEDIATE takes the write lock up front so read-modify-write is safe."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN DEFERRED")
        except sqlite3.OperationalError as exc:
            raise BackendUnavailableError("SQLite storage", str(exc),
                                          hint=f"another writer held {self.path} too long") from exc
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def open(self) -> None:
        if self._opened:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailableError("SQLite storage", f"cannot create {self.path.parent}: "
                                          f"{exc}", hint="set SYNTHTS_DATA_DIR or SYNTHTS_STORAGE "
                                          "to a writable place") from exc
        self._opened = True
        try:
            conn = self._conn
            with self._tx():
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                row = conn.execute("SELECT value FROM synthts_schema WHERE key = 'version'").fetchone()
                if row is None:
                    conn.execute("INSERT INTO synthts_schema (key, value) VALUES ('version', ?)",
                                 (str(SCHEMA_VERSION),))
                elif int(row[0]) > SCHEMA_VERSION:
                    raise SynthtsError(
                        f"{self.path} uses storage schema {row[0]}, newer than this synthts "
                        f"understands ({SCHEMA_VERSION}); upgrade synthts")
                elif int(row[0]) < SCHEMA_VERSION:
                    self._upgrade_schema(conn)
            self.migrate_values()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _upgrade_schema(conn: sqlite3.Connection) -> None:
        """Schema 1 -> 2 in the open transaction: the ``values_layout`` column, 1 on every
        existing row (and on rows an older synthts still inserts without it)."""
        columns = {r[1] for r in conn.execute("PRAGMA table_info(datasets)")}
        if "values_layout" not in columns:
            conn.execute("ALTER TABLE datasets ADD COLUMN values_layout INTEGER NOT NULL "
                         "DEFAULT 1")
        conn.execute("UPDATE synthts_schema SET value = ? WHERE key = 'version'",
                     (str(SCHEMA_VERSION),))

    def migrate_values(self) -> int:
        """Convert every dataset stored in an older values layout (normalised values) to the
        values as imported (``storage_support.as_imported_values``); returns how many rows
        changed. One transaction per row, each checking the row's layout again, so two
        processes opening at once convert each row once. A row that cannot be read is left
        as it was: reading it names it as corrupt."""
        rows = self._conn.execute("SELECT id FROM datasets WHERE values_layout < ?",
                                  (VALUES_LAYOUT,)).fetchall()
        changed = 0
        for (ds_id,) in rows:
            try:
                with self._tx() as conn:
                    changed += self._migrate_row(conn, ds_id)
            except CorruptDataError as exc:
                log.warning("dataset row %d left in its old values layout: %s", ds_id, exc)
        if changed:
            log.info("%s: the values of %d datasets are now stored as imported", self.path,
                     changed)
        return changed

    def _migrate_row(self, conn: sqlite3.Connection, ds_id: int) -> int:
        row = conn.execute("SELECT name, meta, streams, values_layout FROM datasets "
                           "WHERE id = ?", (ds_id,)).fetchone()
        if row is None or row[3] >= VALUES_LAYOUT:
            return 0  # deleted, or converted by another process meanwhile
        meta = decode_meta(row[1], row[0])
        streams = {d["name"]: Stream.from_dict(d) for d in msgspec.json.decode(row[2])}
        new = as_imported_values(read_selected(meta, streams, self._fetcher(conn, ds_id)))
        if new is not None:
            values = dataset_arrays(new)["values"]
            conn.execute("DELETE FROM dataset_chunks WHERE dataset_id = ? AND stream = 'values'",
                         (ds_id,))
            conn.executemany(
                "INSERT INTO dataset_chunks (dataset_id, stream, idx, digest, data) "
                "VALUES (?, ?, ?, ?, ?)",
                ((ds_id, "values", k, digest(chunk), chunk)
                 for k, chunk in iter_chunks(values, streams["values"])))
            conn.execute("UPDATE datasets SET meta = ? WHERE id = ?", (_encode(new.meta), ds_id))
        conn.execute("UPDATE datasets SET values_layout = ? WHERE id = ?", (VALUES_LAYOUT, ds_id))
        return 1 if new is not None else 0

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
        self._opened = False

    def ping(self) -> None:
        try:
            self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise BackendUnavailableError("SQLite storage", str(exc)) from exc

    def schema_version(self) -> int:
        row = self._conn.execute("SELECT value FROM synthts_schema WHERE key = 'version'").fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ datasets

    def create_dataset(self, dataset: Dataset) -> DatasetMeta:
        check_name(dataset.meta.name)
        meta = check_storable(dataset)
        streams = layout(dataset, self.chunk_bytes)
        arrays = dataset_arrays(dataset)
        created = meta.created_at.timestamp()
        try:
            with self._tx() as conn:
                cur = conn.execute(
                    "INSERT INTO datasets (name, created_at, n_series, source, streams, meta, "
                    "values_layout) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (meta.name, created, meta.n_series, meta.source,
                     _encode([s.to_dict() for s in streams.values()]), _encode(meta),
                     VALUES_LAYOUT))
                ds_id = cur.lastrowid
                self._write_index_rows(conn, ds_id, meta)
                for name, stream in streams.items():
                    conn.executemany(
                        "INSERT INTO dataset_chunks (dataset_id, stream, idx, digest, data) "
                        "VALUES (?, ?, ?, ?, ?)",
                        ((ds_id, name, k, digest(chunk), chunk)
                         for k, chunk in iter_chunks(arrays[name], stream)))
        except sqlite3.IntegrityError as exc:
            if "datasets.name" in str(exc):
                raise ConflictError(f"dataset {meta.name!r} already exists; choose another name "
                                    "or delete it first", name=meta.name) from None
            raise
        except sqlite3.OperationalError as exc:
            raise BackendUnavailableError("SQLite storage", str(exc)) from exc
        return meta

    @staticmethod
    def _write_index_rows(conn: sqlite3.Connection, ds_id: int, meta: DatasetMeta) -> None:
        conn.execute("DELETE FROM dataset_tags WHERE dataset_id = ?", (ds_id,))
        conn.executemany("INSERT OR IGNORE INTO dataset_tags (dataset_id, tag) VALUES (?, ?)",
                         [(ds_id, t) for t in meta.tags])
        conn.execute("DELETE FROM dataset_generators WHERE dataset_id = ?", (ds_id,))
        conn.executemany("INSERT OR IGNORE INTO dataset_generators (dataset_id, generator) "
                         "VALUES (?, ?)", [(ds_id, g) for g in meta.generators])
        conn.execute("DELETE FROM dataset_labels WHERE dataset_id = ?", (ds_id,))
        conn.executemany("INSERT OR IGNORE INTO dataset_labels (dataset_id, label) VALUES (?, ?)",
                         [(ds_id, label) for label in meta.label_names])

    def _row(self, conn: sqlite3.Connection, name: str) -> tuple[int, DatasetMeta, dict[str, Stream]]:
        row = conn.execute("SELECT id, meta, streams FROM datasets WHERE name = ?",
                           (name,)).fetchone()
        if row is None:
            raise NotFoundError("dataset", name, hint="`synthts datasets list` shows what exists")
        streams = {d["name"]: Stream.from_dict(d) for d in msgspec.json.decode(row[2])}
        return row[0], decode_meta(row[1], name), streams

    def get_dataset_meta(self, name: str) -> DatasetMeta:
        return self._row(self._conn, name)[1]

    def read_dataset(self, name: str, *, series: slice | list[int] | None = None,
                     labels: list[int] | None = None,
                     channels: list[int] | None = None) -> Dataset:
        with self._tx("DEFERRED") as conn:
            ds_id, meta, streams = self._row(conn, name)
            return read_selected(meta, streams, self._fetcher(conn, ds_id), series=series,
                                 labels=labels, channels=channels)

    @staticmethod
    def _fetcher(conn: sqlite3.Connection, ds_id: int
                 ) -> Callable[[str, list[int]], dict[int, tuple[bytes, str]]]:
        def fetch(stream: str, indices: list[int]) -> dict[int, tuple[bytes, str]]:
            out: dict[int, tuple[bytes, str]] = {}
            for k in indices:
                row = conn.execute(
                    "SELECT digest, data FROM dataset_chunks "
                    "WHERE dataset_id = ? AND stream = ? AND idx = ?",
                    (ds_id, stream, k)).fetchone()
                if row is not None:
                    out[k] = (row[1], row[0])
            return out

        return fetch

    def list_datasets(self, query: DatasetQuery) -> Page:
        check_query(query)
        where: list[str] = []
        params: list[Any] = []
        if query.name_contains:
            where.append("instr(lower(d.name), lower(?)) > 0")
            params.append(query.name_contains)
        for tag in query.tags:
            where.append("EXISTS (SELECT 1 FROM dataset_tags t WHERE t.dataset_id = d.id "
                         "AND t.tag = ?)")
            params.append(tag)
        if query.generator:
            where.append("EXISTS (SELECT 1 FROM dataset_generators g WHERE g.dataset_id = d.id "
                         "AND g.generator = ?)")
            params.append(query.generator)
        if query.label:
            where.append("EXISTS (SELECT 1 FROM dataset_labels x WHERE x.dataset_id = d.id "
                         "AND x.label = ?)")
            params.append(query.label)
        if query.source:
            where.append("d.source = ?")
            params.append(query.source)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        order = SORT_SQL[query.sort]
        with self._tx("DEFERRED") as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM datasets d{clause}", params).fetchone()[0]
            rows = conn.execute(f"SELECT d.meta, d.name, d.n_series, d.created_at, d.source "
                                f"FROM datasets d{clause} ORDER BY {order} LIMIT ? OFFSET ?",
                                [*params, query.limit, query.offset]).fetchall()
        items = [listed_meta(r[0], r[1], r[2], created_at=_from_timestamp(r[3]), source=r[4])
                 for r in rows]
        return Page(items, total, query.offset, query.limit)

    def update_dataset(self, name: str, *, new_name: str | None = None,
                       tags: list[str] | None = None,
                       description: str | None = None) -> DatasetMeta:
        changes = dataset_changes(new_name, tags, description)
        try:
            with self._tx() as conn:
                ds_id, meta, _ = self._row(conn, name)
                meta = msgspec.structs.replace(meta, **changes)
                conn.execute("UPDATE datasets SET name = ?, meta = ? WHERE id = ?",
                             (meta.name, _encode(meta), ds_id))
                self._write_index_rows(conn, ds_id, meta)
        except sqlite3.IntegrityError:
            raise ConflictError(f"dataset {new_name!r} already exists; choose another name",
                                name=new_name) from None
        return meta

    def delete_dataset(self, name: str) -> None:
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM datasets WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise NotFoundError("dataset", name)

    # ------------------------------------------------------------------ jobs

    def create_job(self, job: TrainingJob) -> TrainingJob:
        if not isinstance(job.id, str) or not 0 < len(job.id) <= 128:
            raise BadInputError("id", f"got {job.id!r}", allowed="1-128 characters")
        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO jobs (id, status, created_at, updated_at, doc) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (job.id, job.status, job.created_at.timestamp(),
                              job.updated_at.timestamp(), _encode(job)))
        except sqlite3.IntegrityError:
            raise ConflictError(f"training job {job.id!r} already exists", name=job.id) from None
        return job

    def update_job(self, job_id: str, **changes: Any) -> TrainingJob:
        with self._tx() as conn:
            job = self._job(conn, job_id)
            job = apply_job_changes(job, changes)
            conn.execute("UPDATE jobs SET status = ?, updated_at = ?, doc = ? WHERE id = ?",
                         (job.status, job.updated_at.timestamp(), _encode(job), job_id))
        return job

    @staticmethod
    def _job(conn: sqlite3.Connection, job_id: str) -> TrainingJob:
        row = conn.execute("SELECT doc FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError("training job", job_id)
        return decode_job(row[0], job_id)

    def get_job(self, job_id: str) -> TrainingJob:
        return self._job(self._conn, job_id)

    def list_jobs(self, *, offset: int = 0, limit: int = 50, status: str | None = None) -> Page:
        check_paging(offset, limit)
        with self._tx("DEFERRED") as conn:
            if status is None:
                total = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
                rows = conn.execute("SELECT doc, id FROM jobs ORDER BY created_at DESC, id DESC "
                                    "LIMIT ? OFFSET ?", (limit, offset)).fetchall()
            else:
                total = conn.execute("SELECT COUNT(*) FROM jobs WHERE status = ?",
                                     (status,)).fetchone()[0]
                rows = conn.execute("SELECT doc, id FROM jobs WHERE status = ? ORDER BY created_at "
                                    "DESC, id DESC LIMIT ? OFFSET ?",
                                    (status, limit, offset)).fetchall()
        return Page([listed_job(r[0], r[1]) for r in rows], total, offset, limit)

