"""The connection of the Mongo storage backend: the URI and settings turned into mongoengine's
``connect`` options, the document classes bound to this connection's own alias, and ``guard``,
which turns an unreachable or refusing server into ``BackendUnavailableError`` naming who was
refused what (never the password)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import mongoengine
from pymongo.errors import ConnectionFailure, InvalidURI, OperationFailure
from pymongo.uri_parser import parse_uri

from synthts_core.errors import BackendUnavailableError, BadInputError, SynthtsError
from synthts_mongo.documents import Documents, bind_documents
from synthts_mongo.settings import MongoSettings

F = TypeVar("F", bound=Callable[..., Any])


def guard(method: F) -> F:
    """Turn an unreachable or refusing server into ``BackendUnavailableError``."""

    @functools.wraps(method)
    def wrapper(self: Connection, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except ConnectionFailure as exc:
            raise BackendUnavailableError(
                "MongoDB storage", f"{self.safe_uri} did not answer within "
                f"{self.timeout_ms} ms ({type(exc).__name__})",
                hint="start the server or fix SYNTHTS_STORAGE / SYNTHTS_MONGO_TIMEOUT_MS") from None
        except OperationFailure as exc:
            if exc.code in (13, 18):  # Unauthorized, AuthenticationFailed
                raise BackendUnavailableError("MongoDB storage", self._refusal(exc),
                                              hint=self._refusal_hint(exc)) from None
            raise

    return wrapper  # type: ignore[return-value]


def connection_options(uri: str, settings: Any, timeout_ms: int) -> tuple[str, dict[str, Any]]:
    """Database name and mongoengine ``connect`` options (credentials from the URI win)."""
    config = MongoSettings.of(settings)
    try:
        parsed = parse_uri(uri)
    except (InvalidURI, ValueError) as exc:
        raise BadInputError("SYNTHTS_STORAGE", str(exc),
                            allowed="mongodb://[user:password@]host[:port]/database") from None
    options: dict[str, Any] = {
        "host": uri, "serverSelectionTimeoutMS": timeout_ms, "connectTimeoutMS": timeout_ms,
        "socketTimeoutMS": max(60_000, 10 * timeout_ms), "tz_aware": True,
        "uuidRepresentation": "standard",
    }
    username = config.mongo_username
    if not parsed.get("username") and username:
        secret = config.mongo_password
        options["username"] = username
        options["password"] = secret.get_secret_value() if secret is not None else None
    if (parsed.get("username") or options.get("username")) \
            and "authsource" not in {k.lower() for k in parsed.get("options", {})}:
        # where the user is defined (``admin`` as documented), not the dataset database
        options["authSource"] = config.mongo_auth_source
    return parsed.get("database") or "synthts", options


def credentials(uri: str, options: dict[str, Any]) -> tuple[str | None, str]:
    """(user, authSource) a connection authenticates as, for messages (no password)."""
    parsed = parse_uri(uri)
    given = {k.lower(): v for k, v in parsed.get("options", {}).items()}
    user = parsed.get("username") or options.get("username")
    source = given.get("authsource") or options.get("authSource") \
        or parsed.get("database") or "admin"
    return user, str(source)


class Connection:
    """One backend's connection: opened by ``connect``, its documents in ``docs``."""

    def __init__(self, uri: str, settings: Any = None) -> None:
        from synthts_core.settings import mask_uri

        self.uri = uri
        self.safe_uri = mask_uri(uri)
        config = MongoSettings.of(settings)
        self.timeout_ms = config.mongo_timeout_ms
        self.database, self._options = connection_options(uri, config, self.timeout_ms)
        self.username, self.auth_source = credentials(uri, self._options)
        self._docs: Documents | None = None

    def _refusal(self, exc: OperationFailure) -> str:
        """One line on who was refused what (never the password)."""
        reason = str((exc.details or {}).get("errmsg") or exc).splitlines()[0][:200]
        if self.username is None:
            return f"{self.safe_uri} requires a login: {reason}"
        who = f"user {self.username!r} (authSource {self.auth_source!r})"
        if exc.code == 18:
            return f"{self.safe_uri} refused the credentials of {who}: {reason}"
        return f"{self.safe_uri}: {who} may not use database {self.database!r}: {reason}"

    def _refusal_hint(self, exc: OperationFailure) -> str:
        if self.username is None:
            return "set SYNTHTS_MONGO_USERNAME and SYNTHTS_MONGO_PASSWORD"
        if exc.code == 18:
            return ("check SYNTHTS_MONGO_PASSWORD, and SYNTHTS_MONGO_AUTH_SOURCE if the user is "
                    "not defined in that database")
        return f"grant the user the readWrite role on {self.database!r}"

    @property
    def docs(self) -> Documents:
        if self._docs is None:
            raise SynthtsError("MongoDB storage is not open: call open() first")
        return self._docs

    def connect(self) -> None:
        """Connect under an alias of this backend's own and bind the document classes to it."""
        alias = f"synthts-storage-{uuid.uuid4().hex[:12]}"
        mongoengine.connect(db=self.database, alias=alias, **self._options)
        self._docs = bind_documents(alias)

    def close(self) -> None:
        if self._docs is not None:
            mongoengine.disconnect(self._docs.alias)
            self._docs.forget()
            self._docs = None

    @guard
    def ping(self) -> None:
        self.docs.Schema._get_db().command("ping")

