"""A MongoDB-wire server for tests: SecantusDB on a free loopback port, or a real mongod.

``mongo_uri`` (session) points at the server with a database of its own; ``fresh_mongo_uri``
gives each test a new database on the same server. With ``SYNTHTS_TEST_MONGO_URI`` set, the
tests use that server instead (each database they create is dropped afterwards).
``start_auth_server`` starts one with authentication on and a user created as
``examples/deployment`` documents it (tests and the deployment script use it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from synthts_core.ports import free_port

ENV_URI = "SYNTHTS_TEST_MONGO_URI"




def with_database(uri: str, database: str) -> str:
    """``uri`` with its database path replaced (credentials and options kept)."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


class SecantusServer:
    """``secantusd-py`` as a child process; ``stop``/``start`` keep port and data (restarts).

    ``standalone`` (the default) makes it a standalone server like a plain ``mongod``: no
    replica-set oplog, so every write is not stored twice. Pass False for change streams.
    ``auth`` makes it require a login (SCRAM-SHA-256) for everything but the handshake and
    ``ping``, like ``mongod --auth``; users are created while it runs without (see
    ``start_auth_server``).
    """

    def __init__(self, storage_path: Path, port: int | None = None, *,
                 standalone: bool = True, auth: bool = False) -> None:
        self.storage_path = storage_path
        self.standalone = standalone
        self.auth = auth
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.log = storage_path.parent / f"secantus-{self.port}.log"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        exe = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
        self.storage_path.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [exe, "--host", "127.0.0.1", "--port", str(self.port),
                 "--storage-path", str(self.storage_path), "--log-level", "WARNING",
                 *(["--standalone"] if self.standalone else []),
                 *(["--auth"] if self.auth else [])],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"secantusd-py exited with {self.process.returncode}; "
                                   f"see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            if self._answers():
                return
        self.stop()
        raise RuntimeError(f"secantusd-py did not accept connections within {timeout_s} s")

    def _answers(self) -> bool:
        import pymongo

        client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)
        self.process = None


@dataclass
class MongoLogin:
    """A running auth-enabled server and the documented settings that reach it."""

    server: SecantusServer
    database: str
    username: str
    password: str = field(repr=False)
    auth_source: str = "admin"

    @property
    def uri(self) -> str:
        """``SYNTHTS_STORAGE`` as documented: no credentials in it."""
        return f"{self.server.uri}/{self.database}"

    def env(self) -> dict[str, str]:
        """The ``SYNTHTS_*`` variables of ``examples/deployment/synthts.env`` for this server."""
        return {"SYNTHTS_STORAGE": self.uri, "SYNTHTS_MONGO_USERNAME": self.username,
                "SYNTHTS_MONGO_PASSWORD": self.password}

    def stop(self) -> None:
        self.server.stop()


def create_user(uri: str, username: str, password: str, database: str,
                auth_source: str = "admin") -> None:
    """What the deployment README runs in mongosh (``db.createUser`` in ``admin`` with
    ``readWrite`` on the synthts database), through pymongo's ``createUser`` command."""
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        client[auth_source].command("createUser", username, pwd=password,
                                    roles=[{"role": "readWrite", "db": database}])
    finally:
        client.close()


def start_auth_server(storage_path: Path, *, port: int | None = None, database: str = "synthts",
                      username: str = "synthts", password: str | None = None) -> MongoLogin:
    """Start SecantusDB with ``--auth`` and a user as documented: it is started once without
    auth to create the user in ``admin`` (it has no localhost exception), then restarted with
    auth on the same port and data. Stop it with ``.stop()``."""
    secret = password or uuid.uuid4().hex
    server = SecantusServer(storage_path, port)
    server.start()
    try:
        create_user(server.uri, username, secret, database)
    finally:
        server.stop()
    server.auth = True
    server.start()
    return MongoLogin(server, database, username, secret)


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecantusServer | None]:
    """The session's SecantusDB server, or None when ``SYNTHTS_TEST_MONGO_URI`` is set."""
    if os.environ.get(ENV_URI):
        yield None
        return
    server = SecantusServer(tmp_path_factory.mktemp("secantus") / "data")
    server.start()
    yield server
    server.stop()


def _drop(uri: str) -> None:
    import pymongo
    from pymongo.uri_parser import parse_uri

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        client.drop_database(parse_uri(uri)["database"])
    except pymongo.errors.PyMongoError:
        pass
    finally:
        client.close()


@pytest.fixture(scope="session")
def mongo_uri(mongo_server: SecantusServer | None) -> Iterator[str]:
    """URI of a MongoDB-wire server with a database for this test session."""
    base = os.environ.get(ENV_URI) or mongo_server.uri  # type: ignore[union-attr]
    uri = with_database(base, f"synthts_test_{uuid.uuid4().hex[:10]}")
    yield uri
    if mongo_server is None:
        _drop(uri)


@pytest.fixture
def fresh_mongo_uri(mongo_uri: str) -> Iterator[str]:
    """A new, empty database on the session's server for one test."""
    uri = with_database(mongo_uri, f"synthts_test_{uuid.uuid4().hex[:10]}")
    yield uri
    _drop(uri)
