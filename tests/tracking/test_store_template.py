"""A new embedded MLflow store is a copy of a migrated empty one (``store_template``): it must
be the store an in-place migration makes, hold nothing of another data folder, and fall back
to migrating in place when MLflow refuses the copy."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import pytest
from synthts_mlflow import store_template
from synthts_mlflow.plugin import make_tracker

from synthts_core.settings import Settings


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "synthts"


def settings(root: Path) -> Settings:
    return Settings(data_dir=root, _env_file=None)


def rows(db: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def schema(db: Path) -> list[tuple]:
    """Each table and index with the lines of its SQL as a set: MLflow's migrations write a
    table's constraints in an order that changes between two migrations of the same version."""
    found = rows(db, "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    return sorted((kind, name, frozenset(line.strip().rstrip(",")
                                         for line in (sql or "").splitlines()))
                  for kind, name, sql in found)


def in_place(root: Path) -> Path:
    """The store MLflow makes with no template (what every new data folder got before)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    root.mkdir(parents=True)
    store = SqlAlchemyStore(f"sqlite:///{root / 'mlflow.db'}", (root / "art").as_uri())
    store.engine.dispose()
    return root / "mlflow.db"


def test_a_store_from_the_template_is_the_store_a_migration_makes(tmp_path, cache,
                                                                  monkeypatch) -> None:
    import mlflow.store.db.utils as db_utils

    first = make_tracker(settings(tmp_path / "a"))
    run_id = first.start_run("job-1", "trial-0", {"lr": 0.1})
    first.end_run(run_id, "FINISHED")
    assert len(list(cache.glob("mlflow-store-*.db"))) == 1  # made once, by the first store
    reference = in_place(tmp_path / "ref")

    def no_migration(engine: object) -> None:
        raise AssertionError("the second store was migrated, not copied")

    monkeypatch.setattr(db_utils, "_initialize_tables", no_migration)
    second = make_tracker(settings(tmp_path / "b"))
    second.ping()
    made = tmp_path / "b" / "mlflow.db"
    assert schema(made) == schema(reference)
    assert rows(made, "SELECT * FROM alembic_version") == \
        rows(reference, "SELECT * FROM alembic_version")
    assert rows(made, "SELECT name FROM workspaces") == \
        rows(reference, "SELECT name FROM workspaces")
    # only the Default experiment, rooted in this data folder: nothing of folder a
    assert rows(made, "SELECT experiment_id, name, artifact_location FROM experiments") == [
        (0, "Default", (tmp_path / "b" / "mlartifacts" / "0").as_uri())]
    assert rows(made, "SELECT count(*) FROM runs") == [(0,)]
    # and it works as a store: a run of its own, beside folder a's
    run_b = second.start_run("job-2", "trial-0", {"lr": 0.2})
    second.end_run(run_b, "FINISHED")
    assert rows(made, "SELECT count(*) FROM runs") == [(1,)]
    assert rows(tmp_path / "a" / "mlflow.db", "SELECT count(*) FROM runs") == [(1,)]
    assert made.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777  # the umask's mode
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["mlartifacts", "mlflow.db"]


def test_a_damaged_template_is_never_copied_and_is_rebuilt(tmp_path, cache) -> None:
    head = store_template.latest_revision()
    template = store_template.template_path(head)
    store_template.build_template(template)
    with contextlib.closing(sqlite3.connect(template)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = 'not-a-revision'")
    assert not store_template.usable(template, head)

    tracker = make_tracker(settings(tmp_path / "d"))
    tracker.ping()  # MLflow's schema check would refuse a copy of the damaged file
    assert rows(tmp_path / "d" / "mlflow.db", "SELECT * FROM alembic_version") == [(head,)]
    assert store_template.usable(template, head)  # rebuilt for the next new store


def test_without_a_usable_cache_the_store_is_migrated_in_place(tmp_path, monkeypatch) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert store_template.copy_template(tmp_path / "x.db") is False
    tracker = make_tracker(settings(tmp_path / "f"))
    run_id = tracker.start_run("job-1", "trial-0", {"lr": 0.1})
    tracker.end_run(run_id, "FINISHED")
    assert rows(tmp_path / "f" / "mlflow.db", "SELECT count(*) FROM runs") == [(1,)]


def test_an_existing_store_is_never_replaced(tmp_path, cache) -> None:
    path = tmp_path / "e" / "mlflow.db"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"somebody's store")
    assert store_template.copy_template(path) is False
    assert path.read_bytes() == b"somebody's store"
    assert [p.name for p in path.parent.iterdir()] == ["mlflow.db"]  # no temporary left


def test_the_cache_keeps_a_few_recent_templates_and_no_half_built_one(cache) -> None:
    cache.mkdir(parents=True)
    old = []
    for i in range(4):
        stale = cache / f"mlflow-store-0.0.{i}-r{i}.db"
        stale.write_bytes(b"an older MLflow's schema")
        os.utime(stale, (1_000_000 + i, 1_000_000 + i))
        old.append(stale)
    half = cache / ".building-0123.db"
    half.write_bytes(b"left by a killed build")
    os.utime(half, (1_000_000, 1_000_000))
    current = store_template.template_path(store_template.latest_revision())
    store_template.build_template(current)
    kept = sorted(p.name for p in cache.iterdir())
    assert kept == sorted([current.name, old[3].name, old[2].name])
    assert len(kept) == store_template.KEEP
