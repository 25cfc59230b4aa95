"""What only the SQLite backend can show: its file, WAL, crashes, several processes, the runtime."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from synthts_sqlite.backend import SqliteStorage

from synthts_core.domain import Dataset, DatasetQuery
from synthts_core.errors import BackendUnavailableError, NotFoundError
from synthts_core.runtime import Runtime
from synthts_core.settings import Settings
from synthts_core.storage_support import CorruptDataError
from synthts_core.testing.conformance.storage import make_dataset

WRITER = str(Path(__file__).with_name("_writer.py"))


def _db_path(uri: str) -> Path:
    return Path(uri.removeprefix("sqlite:///"))


def test_runtime_opens_the_default_file_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    with Runtime(settings) as rt:
        assert isinstance(rt.storage, SqliteStorage)
        rt.storage.create_dataset(make_dataset("via-runtime"))
    assert (tmp_path / "data" / "synthts.db").exists()
    conn = sqlite3.connect(tmp_path / "data" / "synthts.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM synthts_schema WHERE key='version'").fetchone()[0] == "2"
    with Runtime(settings) as rt:
        assert rt.storage.get_dataset_meta("via-runtime").n_series == 24


def test_corrupt_bytes_are_detected_on_whole_and_sliced_reads(sqlite_storage, sqlite_uri) -> None:
    ds = make_dataset("fragile", n=30, length=40)
    sqlite_storage.create_dataset(ds)
    conn = sqlite3.connect(_db_path(sqlite_uri))
    data = bytearray(conn.execute("SELECT data FROM dataset_chunks WHERE stream='values' "
                                  "AND idx=1").fetchone()[0])
    data[10] ^= 0xFF
    with conn:
        conn.execute("UPDATE dataset_chunks SET data=? WHERE stream='values' AND idx=1", (bytes(data),))
    conn.close()
    with pytest.raises(CorruptDataError, match="fragile"):
        sqlite_storage.read_dataset("fragile")
    # chunk 1 holds bytes 1000..1999 of values: series 6..12 of 160 bytes each
    with pytest.raises(CorruptDataError, match="chunk 1"):
        sqlite_storage.read_dataset("fragile", series=[7])
    np.testing.assert_array_equal(sqlite_storage.read_dataset("fragile", series=[20]).values,
                                  ds.values[[20]])


def test_sigkill_mid_write_leaves_no_partial_dataset(sqlite_uri: str) -> None:
    """A real crash: the child is killed while its big transaction is being written."""
    wal = Path(str(_db_path(sqlite_uri)) + "-wal")
    child = subprocess.Popen([sys.executable, WRITER, "crash", sqlite_uri, str(24_000_000)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not wal.exists() or wal.stat().st_size < 20e6):
            assert child.poll() is None, "the writer finished before it could be interrupted"
            time.sleep(0.002)
        assert child.poll() is None
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    store = SqliteStorage(sqlite_uri)
    store.open()
    try:
        assert [m.name for m in store.list_datasets(DatasetQuery()).items] == ["before"]
        with pytest.raises(NotFoundError):
            store.read_dataset("big")
        conn = sqlite3.connect(_db_path(sqlite_uri))
        assert conn.execute("SELECT COUNT(*) FROM dataset_chunks d WHERE NOT EXISTS "
                            "(SELECT 1 FROM datasets s WHERE s.id = d.dataset_id)").fetchone()[0] == 0
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        store.create_dataset(Dataset.build("big", np.zeros((3, 1, 4), np.float32)))
        assert store.read_dataset("big").values.shape == (3, 1, 4)
    finally:
        store.close()


def test_two_processes_writing_at_once_lose_nothing(sqlite_uri: str, sqlite_storage) -> None:
    rounds = 15
    children = [subprocess.Popen([sys.executable, WRITER, "race", sqlite_uri, who, str(rounds)])
                for who in ("left", "right")]
    for child in children:
        assert child.wait(120) == 0
    store = sqlite_storage
    for who in ("left", "right"):
        page = store.list_datasets(DatasetQuery(tags=[who], limit=100))
        assert page.total == rounds
        for meta in page.items:
            store.read_dataset(meta.name).verify()
    job = store.get_job("shared")
    assert sorted(job.errors) == sorted(f"{w}:{k}" for w in ("left", "right") for k in range(rounds))
    assert {t.trial_id: t.epoch for t in job.trials} == {"left": rounds - 1, "right": rounds - 1}


def test_a_second_connection_sees_committed_writes(sqlite_uri: str, sqlite_storage) -> None:
    other = SqliteStorage(sqlite_uri)
    other.open()
    try:
        sqlite_storage.create_dataset(make_dataset("shared-file"))
        assert other.get_dataset_meta("shared-file").n_series == 24
        other.delete_dataset("shared-file")
        with pytest.raises(NotFoundError):
            sqlite_storage.get_dataset_meta("shared-file")
    finally:
        other.close()


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = SqliteStorage(f"sqlite:///{blocker / 'db.sqlite'}")
    with pytest.raises(BackendUnavailableError, match="SYNTHTS_DATA_DIR"):
        store.open()


@pytest.mark.slow
def test_hundred_million_values_round_trip(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'big.db'}")
    store.open()
    try:
        check_hundred_million(store)
    finally:
        store.close()


def check_hundred_million(store) -> None:
    """Store 100M float32 values (400 MB), read them back whole and by label; only one copy of
    the values is alive at a time."""
    values = np.empty((100_000, 1, 1000), dtype=np.float32)
    values[:] = np.arange(1000, dtype=np.float32)
    values[:, 0, 0] = np.arange(100_000)
    ds = Dataset.build("hundred-million", values, np.arange(100_000) % 10)
    assert ds.meta.n_values == 100_000_000
    stored = store.create_dataset(ds).checksum
    del ds, values
    back = store.read_dataset("hundred-million")
    assert back.meta.checksum == stored
    np.testing.assert_array_equal(back.values[:, 0, 0], np.arange(100_000))
    assert (back.values[:, 0, 1:] == np.arange(1, 1000, dtype=np.float32)).all()
    del back
    part = store.read_dataset("hundred-million", labels=[7], series=slice(50_000, None))
    np.testing.assert_array_equal(part.values[:, 0, 0], np.arange(50_007, 100_000, 10))
