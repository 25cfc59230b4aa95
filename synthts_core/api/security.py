"""Bearer-token guard and request limits.

When ``SYNTHTS_API_TOKEN`` is set, every request that can change state or start work (any
method other than GET, HEAD and OPTIONS) must carry ``Authorization: Bearer <token>``; reads
stay open so dashboards and health probes need no secret. The comparison is constant-time.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import SecurityScheme

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_SCHEME_NAME = "BearerToken"
BEARER_SCHEME = SecurityScheme(
    type="http", scheme="bearer",
    description="Needed for writes when the server has SYNTHTS_API_TOKEN set.")
WRITE_SECURITY: list[dict[str, list[str]]] = [{SECURITY_SCHEME_NAME: []}]


def token_matches(header: str | None, token: str) -> bool:
    """``Authorization`` header carries exactly ``Bearer <token>`` (constant-time compare)."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


_ORIGIN_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\[\]:@/]+)(:[0-9]{1,5})?")
"""An origin's ``host[:port]``: no user info, a bracketed part only as the whole host."""


def is_loopback_origin(origin: str) -> bool:
    """An ``Origin`` of a page served from this machine: http(s) on ``localhost`` or a loopback
    IP literal. The host is parsed, never prefix-matched, so ``http://127.evil.example`` or
    ``http://[::1].evil.example`` are not loopback; ``null`` and odd schemes are not either."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(origin.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or not _ORIGIN_HOST.fullmatch(
            parts.netloc):
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_authenticated(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """The server has no token, or this request carries the right one."""
    secret = connection.app.state.runtime.settings.api_token
    token = secret.get_secret_value() if secret is not None else ""
    return not token or token_matches(connection.headers.get("authorization"), token)


_PATH = re.compile(r"""(?:(?<=[\s'"(=:])|^)(?:/(?!/)|[A-Za-z]:\\)[^\s'"()<>,;:]*""")
_URI_PATH = re.compile(r"\b([a-z][a-z0-9+.-]*):///?[^\s'\"<>]*", re.IGNORECASE)
HIDDEN = "<hidden>"


def hide_paths(text: str | None) -> str | None:
    """``text`` with file system paths and local URIs replaced (for callers without the
    token): error messages often quote where the data folder is."""
    if not text:
        return text
    text = _URI_PATH.sub(lambda m: f"{m.group(1)}://{HIDDEN}", text)
    return _PATH.sub(HIDDEN, text)


def hide_uri(uri: str) -> str:
    """Only the scheme of a storage/tracker URI: ``sqlite://<hidden>``."""
    scheme, sep, _ = uri.partition(":")
    return f"{scheme}://{HIDDEN}" if sep else HIDDEN


async def require_token_for_writes(connection: ASGIConnection[Any, Any, Any, Any],
                                   _: BaseRouteHandler) -> None:
    """Litestar guard: unsafe methods need the bearer token when one is configured. Async
    although it never waits: Litestar runs a sync guard in a worker thread, a thread hop on
    every request (measured: about a fifth of the generation endpoint's throughput)."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    secret = connection.app.state.runtime.settings.api_token
    token = secret.get_secret_value() if secret is not None else ""
    if not token:
        # no token (a loopback-only server): still refuse writes a browser sends on behalf of
        # another site, which need no preflight for a text/plain body
        origin = connection.headers.get("origin")
        if origin and not is_loopback_origin(origin):
            raise PermissionDeniedException(
                f"writes from origin {origin!r} are refused: only pages served from this "
                "machine (localhost, 127.0.0.1, [::1]) may change state without a token")
        return
    if not token_matches(connection.headers.get("authorization"), token):
        raise NotAuthorizedException(
            "this request changes state or starts work and the server requires a token: send "
            "'Authorization: Bearer <SYNTHTS_API_TOKEN>'")
