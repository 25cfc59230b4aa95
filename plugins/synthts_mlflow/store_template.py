"""A new embedded MLflow store starts as a copy of an empty, already migrated one.

Opening a new SQLite store makes MLflow run its whole chain of schema migrations (about 60
alembic steps: 2-3 s of a 2-core machine, on the first command in every new data folder).
The schema is fixed by MLflow's migration head, so it is migrated once per head into
``<cache>/synthts/mlflow-store-<version>-<head>.db`` (``XDG_CACHE_HOME`` or ``~/.cache``;
under 1 MB; the ``KEEP`` most recently used are kept, so two installs with different MLflow
versions do not rebuild each other's) and copied.

The template holds MLflow's tables, its alembic version and its default workspace, and no
experiment: the ``Default`` experiment (id 0) is data about this data folder (its artifact
root), and MLflow creates it when a store without it is opened, as for a new store.

A copy is checked (its alembic version is MLflow's head, it has no experiment) before it is
linked into place, and linking fails if a store appeared there meanwhile, so a store some
process already uses is never replaced or deleted. Anything that stops the template (no home
folder, a read-only or full cache, MLflow internals that moved) means migrating in place, as
before: the template only saves time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import time
import uuid
from pathlib import Path

log = logging.getLogger("synthts.mlflow")

PREFIX = "mlflow-store-"
KEEP = 3  # templates kept in the cache folder (the most recently used)
STALE_BUILD_S = 3600.0  # a half-built template older than this was left by a killed process


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "synthts"


def latest_revision() -> str:
    """MLflow's schema head: the alembic revision a migrated store records."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    return str(_get_latest_schema_revision())


def template_path(head: str) -> Path:
    import mlflow

    return cache_dir() / f"{PREFIX}{mlflow.__version__}-{head}.db"


def usable(db: Path, head: str) -> bool:
    """A migrated store at ``head`` with no experiment (read only; False for anything else)."""
    if not db.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            experiments = conn.execute("SELECT count(*) FROM experiments").fetchone()[0]
    except sqlite3.Error:
        return False
    return revision == [(head,)] and experiments == 0


def build_template(target: Path) -> None:
    """Migrate an empty store in a temporary file beside ``target``, drop its experiments and
    move it into place atomically (a concurrent builder's file is equally good); then keep
    the ``KEEP`` most recently used templates and sweep half-built ones left by a kill."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".building-{uuid.uuid4().hex}.db"
    try:
        # the Default experiment it creates (and its artifact root) is deleted below; MLflow
        # creates no artifact folder for a store it only opens
        store = SqlAlchemyStore(f"sqlite:///{tmp}", (target.parent / "unused").as_uri())
        store.engine.dispose()
        with contextlib.closing(sqlite3.connect(tmp)) as db, db:
            db.execute("DELETE FROM experiment_tags")
            db.execute("DELETE FROM experiments")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _tidy(target.parent)


def _tidy(folder: Path) -> None:
    templates = sorted(folder.glob(f"{PREFIX}*.db"), key=_mtime, reverse=True)
    for old in templates[KEEP:]:
        old.unlink(missing_ok=True)
    for half in folder.glob(".building-*.db"):
        if time.time() - _mtime(half) > STALE_BUILD_S:
            half.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def copy_template(path: Path) -> bool:
    """Put a migrated empty store at ``path`` if nothing is there; True only when this call
    put it there (False: migrate in place, or another process made the store first)."""
    try:
        head = latest_revision()
        template = template_path(head)
        if not usable(template, head):
            build_template(template)
        os.utime(template)  # recently used: kept by _tidy
    except Exception as exc:  # the template only saves time: any failure migrates in place
        log.debug("no MLflow store template (%s); migrating %s in place", exc, path)
        return False
    tmp = path.with_name(f".mlflow-{uuid.uuid4().hex}.db")  # created with the umask's mode
    try:
        shutil.copyfile(template, tmp)
        if not usable(tmp, head):  # replaced or damaged between the check and the copy
            return False
        os.link(tmp, path)  # fails if a store is there: it is another process's, untouched
        return True
    except OSError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
