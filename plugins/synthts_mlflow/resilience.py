"""How the tracker survives its backends: SQLite lock contention, dead servers, slow networks.

Many Ray workers write to one embedded SQLite store at once and SQLite answers some of them
"database is locked"; those calls are retried briefly. Remote servers get short HTTP timeouts
and few retries (MLflow's defaults wait minutes) through environment variables that are set
only while a tracker call runs and only where the user has not set them.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from synthts_core.errors import BackendUnavailableError, NotFoundError, SynthtsError

T = TypeVar("T")

LOCK_RETRY_SECONDS = 30.0
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    # set_terminated prints "View run at <url>" to stdout for servers; keep CLI output clean
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
PING_TIMEOUT_S = 3.0

lock_retries = 0  # how often this process waited on a locked SQLite store (diagnostics)

_env_lock = threading.Lock()
_env_users = 0
_env_set_by_us: list[str] = []


@contextmanager
def http_limits() -> Iterator[None]:
    """Short MLflow HTTP timeouts for the duration of a call (reference-counted across
    threads, so concurrent calls see the same values and the last one out restores them)."""
    global _env_users
    with _env_lock:
        if _env_users == 0:
            for key, value in HTTP_LIMITS.items():
                if key not in os.environ:
                    os.environ[key] = value
                    _env_set_by_us.append(key)
        _env_users += 1
    try:
        yield
    finally:
        with _env_lock:
            _env_users -= 1
            if _env_users == 0:
                for key in _env_set_by_us:
                    os.environ.pop(key, None)
                _env_set_by_us.clear()


def is_locked_error(exc: BaseException) -> bool:
    """SQLite's "database is locked" (or busy), however many layers wrap it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).lower()
        if "database is locked" in text or "database is busy" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


def is_connection_error(exc: BaseException) -> bool:
    """A server that cannot be reached (refused, timed out, DNS), as MLflow reports it."""
    text = str(exc)
    if "API request to" in text and "failed with exception" in text:
        return True
    try:
        import requests
    except ImportError:  # pragma: no cover - mlflow depends on requests
        return False
    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout)


CAUSES = re.compile(r"Connection refused|Connection reset by peer|Read timed out|"
                    r"Name or service not known|No route to host|Network is unreachable|"
                    r"timed out")


def connection_cause(exc: BaseException) -> str:
    """Why a server could not be reached, in a few words: the socket error at the bottom of
    the chain MLflow, requests and urllib3 wrap around it (``[Errno 111] Connection
    refused``), else a known phrase of their messages, else the exception's type."""
    seen: set[int] = set()
    current: BaseException | None = exc
    found: BaseException | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and (current.errno or isinstance(current, TimeoutError)):
            found = current
        current = current.__cause__ or current.__context__
    if found is not None:
        return str(found) or type(found).__name__
    match = CAUSES.search(str(exc))
    return match.group(0) if match else type(exc).__name__


def call_backend(uri: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one MLflow call: retry lock contention, map unreachable servers and missing
    entities to synthts errors (so the API answers 503/404, not 500)."""
    from mlflow.exceptions import MlflowException

    global lock_retries
    deadline = time.monotonic() + LOCK_RETRY_SECONDS
    delay = 0.02
    while True:
        try:
            return fn(*args, **kwargs)
        except SynthtsError:
            raise
        except Exception as exc:
            if is_locked_error(exc) and time.monotonic() < deadline:
                lock_retries += 1
                time.sleep(delay + random.uniform(0.0, delay))
                delay = min(delay * 2.0, 0.5)
                continue
            if is_connection_error(exc):
                raise BackendUnavailableError(
                    "MLflow", f"{uri}: {connection_cause(exc)}",
                    hint="check SYNTHTS_MLFLOW_URI and that the server is running") from exc
            if isinstance(exc, MlflowException) and exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise NotFoundError("MLflow entity", str(exc.message)[:200]) from exc
            raise


def ping_http(uri: str, timeout: float = PING_TIMEOUT_S) -> None:
    """GET ``/health`` with a short timeout; no MLflow retries, so a dead server fails fast."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            if response.status != 200:
                raise BackendUnavailableError("MLflow", f"{uri}: /health answered {response.status}")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BackendUnavailableError(
            "MLflow", f"{uri}: {reason}",
            hint="check SYNTHTS_MLFLOW_URI and that the server is running") from exc
