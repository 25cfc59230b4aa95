"""The one map from errors to HTTP responses: RFC 9457 problem details, never a stack trace.

Core errors (``SynthtsError``) know nothing of HTTP: ``ERROR_MAP`` gives each class its status
and title, and its message and ``extra`` facts become the problem's ``detail`` and members.
Litestar's own exceptions (validation, 404 routes, 405, 413 body limit, 401 guard) are
translated here too, so a client sees one shape for every failure. Anything else is logged with
its traceback on the server and answered with a generic 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import msgspec
from litestar import Request, Response
from litestar.exceptions.http_exceptions import (
    HTTPException,
    NotAuthorizedException,
    RequestEntityTooLarge,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec

from synthts_core.api.schemas import Problem
from synthts_core.errors import (
    BackendUnavailableError,
    BadInputError,
    ConflictError,
    CorruptDataError,
    DuplicateNameError,
    LimitExceededError,
    NotFoundError,
    PluginError,
    SynthtsError,
)

log = logging.getLogger("synthts.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemKind(NamedTuple):
    status: int
    title: str


ERROR_MAP: dict[type[SynthtsError], ProblemKind] = {
    SynthtsError: ProblemKind(500, "Internal error"),
    BadInputError: ProblemKind(422, "Invalid input"),
    NotFoundError: ProblemKind(404, "Not found"),
    ConflictError: ProblemKind(409, "Conflict"),
    DuplicateNameError: ProblemKind(409, "Duplicate plugin name"),
    LimitExceededError: ProblemKind(413, "Limit exceeded"),
    BackendUnavailableError: ProblemKind(503, "Backend unavailable"),
    CorruptDataError: ProblemKind(500, "Corrupt data"),
    PluginError: ProblemKind(500, "Internal error"),
}
"""The one map from core errors to HTTP. A class not listed (a plugin's own subclass, say) takes
the entry of its nearest listed base class."""


def problem_kind(exc: SynthtsError) -> ProblemKind:
    """The status and title ``exc`` is answered with."""
    return next(ERROR_MAP[cls] for cls in type(exc).__mro__ if cls in ERROR_MAP)


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or wrong bearer token (only when SYNTHTS_API_TOKEN is set)",
    404: "No such resource",
    406: "No acceptable representation",
    409: "Conflict with the current state (e.g. the name is taken)",
    413: "A configured limit was exceeded; the problem names the setting",
    415: "Unsupported media type",
    422: "Invalid input; the problem names the field and what is allowed",
    503: "A backend (storage, tracker, Ray) is unavailable",
}


def problem_response(status: int, title: str, detail: str, headers: dict[str, str] | None = None,
                     **extra: Any) -> Response[bytes]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status,
                            "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(msgspec.json.encode(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE,
                    headers=headers)


def _validation_problem(exc: ValidationException) -> Response[bytes]:
    errors: list[dict[str, Any]] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append({k: str(getattr(v, "value", v)) for k, v in item.items()
                           if k in ("key", "message", "source")})
    field = errors[0].get("key") if errors else None
    detail = exc.detail or "invalid input"
    if errors:
        first = errors[0]
        where = f"{first.get('source', 'request')} field {first.get('key')!r}" if first.get("key") \
            else first.get("source", "request")
        detail = f"{where}: {first.get('message', detail)}"
    return problem_response(422, "Invalid input", detail, field=field or None, errors=errors)


def handle_synthts_error(request: Request[Any, Any, Any], exc: SynthtsError) -> Response[bytes]:
    """Core errors answered as ``ERROR_MAP`` says; 5xx ones are logged (a backend failed)."""
    status, title = problem_kind(exc)
    if status >= 500:
        log.warning("%s %s -> %s: %s", request.method, request.url.path, status, exc.message)
    detail = exc.message
    extra = _jsonable({k: v for k, v in exc.extra.items() if v is not None})
    if status >= 500 and not _may_see_paths(request):  # "cannot open /srv/data/synthts.db"
        from synthts_core.api.security import hide_paths

        detail = hide_paths(detail) or detail
        extra = {k: hide_paths(v) if isinstance(v, str) else v for k, v in extra.items()}
    return problem_response(status, title, detail, **extra)


def _may_see_paths(request: Request[Any, Any, Any]) -> bool:
    from synthts_core.api.security import is_authenticated

    try:
        return is_authenticated(request)
    except AttributeError:  # an app without a synthts runtime
        return True


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Litestar's own errors, reshaped as problem details."""
    if isinstance(exc, ValidationException):
        return _validation_problem(exc)
    if isinstance(exc, RequestEntityTooLarge):
        limit = request.app.state.runtime.settings.max_request_bytes
        return problem_response(
            413, "Limit exceeded",
            f"request body exceeds the limit of {limit} bytes (raise SYNTHTS_MAX_REQUEST_BYTES "
            "to allow more)", limit=limit, setting="SYNTHTS_MAX_REQUEST_BYTES")
    if isinstance(exc, NotAuthorizedException):
        return problem_response(401, "Unauthorized", exc.detail,
                                headers={"WWW-Authenticate": 'Bearer realm="synthts"'})
    status = exc.status_code
    if status >= 500:
        log.error("%s %s -> %s: %s", request.method, request.url.path, status, exc.detail)
        return problem_response(status, "Internal error", "the server failed to answer; "
                                "the error is in its log")
    return problem_response(status, _title(status), exc.detail, headers=exc.headers)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A bug: log the traceback server-side, tell the client nothing about the internals."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "Internal error",
                            "an unexpected error happened; it has been logged on the server")


EXCEPTION_HANDLERS = {
    SynthtsError: handle_synthts_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI documentation of the problem responses a handler can give."""
    return {
        s: ResponseSpec(data_container=Problem, media_type=PROBLEM_MEDIA_TYPE,
                        description=_DESCRIPTIONS.get(s, _title(s)), generate_examples=False)
        for s in sorted({400, 422, *statuses})
    }


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, list, dict, type(None))) else str(v)
            for k, v in extra.items()}
