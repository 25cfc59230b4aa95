"""MongoDB with authentication, set up as examples/deployment documents it: the server runs with
``--auth``, the user is created in ``admin`` with ``readWrite`` on the synthts database, and
synthts is given ``SYNTHTS_STORAGE=mongodb://host:port/synthts`` plus the user and password."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from synthts_mongo.backend import MongoStorage
from synthts_mongo.connection import connection_options

from synthts_core.errors import BackendUnavailableError
from synthts_core.runtime import Runtime
from synthts_core.settings import Settings
from synthts_core.testing.conformance.storage import make_dataset
from synthts_core.testing.mongo import MongoLogin, start_auth_server

pytestmark = pytest.mark.mongo


@pytest.fixture(scope="module")
def login(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoLogin]:
    server = start_auth_server(tmp_path_factory.mktemp("secantus-auth") / "data")
    yield server
    server.stop()


def test_the_documented_settings_work(login: MongoLogin, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in login.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SYNTHTS_MONGO_AUTH_SOURCE", raising=False)
    settings = Settings(data_dir=tmp_path, _env_file=None)
    assert settings.storage == login.uri and "@" not in login.uri  # no credentials in the URI
    with Runtime(settings) as rt:
        assert isinstance(rt.storage, MongoStorage)
        rt.storage.create_dataset(make_dataset("with-auth"))
        assert rt.storage.get_dataset_meta("with-auth").n_series == 24
    # the same through the CLI in a process of its own, as a user would run it
    env = {**os.environ, **login.env(), "SYNTHTS_DATA_DIR": str(tmp_path)}
    env.pop("SYNTHTS_MONGO_AUTH_SOURCE", None)
    shown = subprocess.run([sys.executable, "-m", "synthts_core.cli", "datasets", "list"],
                           capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "with-auth" in shown.stdout


def test_the_user_is_looked_up_in_admin_unless_told_otherwise() -> None:
    settings = Settings(mongo_username="synthts", mongo_password="pw", _env_file=None)
    _, options = connection_options("mongodb://db.example/synthts", settings, 1000)
    assert options["authSource"] == "admin"
    mine = settings.model_copy(update={"mongo_auth_source": "synthts"})
    assert connection_options("mongodb://db.example/synthts", mine, 1000)[1]["authSource"] \
        == "synthts"
    # an authSource in the URI wins over the setting
    _, options = connection_options("mongodb://db.example/synthts?authSource=users", mine, 1000)
    assert "authSource" not in options  # pymongo takes it from the URI
    assert connection_options("mongodb://db.example/synthts", Settings(_env_file=None),
                              1000)[1].get("authSource") is None  # no user: no login


def test_a_wrong_password_is_one_clear_line(login: MongoLogin, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, storage=login.uri, mongo_username=login.username,
                        mongo_password="not-the-password", mongo_timeout_ms=2000, _env_file=None)
    store = MongoStorage(login.uri, settings)
    with pytest.raises(BackendUnavailableError) as caught:
        store.open()
    text = str(caught.value)
    assert "\n" not in text and "not-the-password" not in text
    assert "user 'synthts'" in text and "authSource 'admin'" in text
    assert "SYNTHTS_MONGO_PASSWORD" in text

    # the user exists only in admin: looking for it in the dataset database names that too
    elsewhere = Settings(mongo_username=login.username, mongo_password=login.password,
                         mongo_auth_source="synthts", mongo_timeout_ms=2000, _env_file=None)
    with pytest.raises(BackendUnavailableError, match=r"authSource 'synthts'.*"
                       r"SYNTHTS_MONGO_AUTH_SOURCE"):
        MongoStorage(login.uri, elsewhere).open()


def test_no_login_at_all_says_which_settings_to_set(login: MongoLogin) -> None:
    store = MongoStorage(login.uri, Settings(mongo_timeout_ms=2000, _env_file=None))
    with pytest.raises(BackendUnavailableError, match=r"requires a login.*SYNTHTS_MONGO_USERNAME"):
        store.open()


def test_the_role_is_enforced(login: MongoLogin) -> None:
    """readWrite on ``synthts`` only: another database is refused, and the message says so."""
    other = login.uri.rsplit("/", 1)[0] + "/elsewhere"
    settings = Settings(mongo_username=login.username, mongo_password=login.password,
                        mongo_timeout_ms=2000, _env_file=None)
    with pytest.raises(BackendUnavailableError, match="may not use database 'elsewhere'"):
        MongoStorage(other, settings).open()
