"""How request bodies are read: a stalled body times out, and JSON bodies are decoded strictly.

Litestar converts a decoded body into the handler's ``data`` type with ``strict=False``, which
would take the string ``"5"`` for an integer field and ``"true"`` for a boolean. Here a route
whose ``data`` is a msgspec Struct gets its body decoded straight into that Struct in strict
mode (Litestar then passes the instance through unchanged), after checking that the client
declared a JSON content type: without that check a web page could send a JSON body as
``text/plain``, which browsers send cross-site without a preflight. Too deeply nested input is a
400, never a ``RecursionError``.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import msgspec
from litestar import Request
from litestar.connection.base import empty_receive, empty_send
from litestar.exceptions import ClientException, HTTPException, ValidationException
from litestar.types import Empty, Message, Receive, Scope, Send

JSON_MEDIA = "application/json"
BODY_TIMEOUT_STATUS = 408
BODY_DEADLINE_FACTOR = 10
"""The whole body must arrive within this many idle timeouts (a trickle is a stall too)."""

_STRUCT_OF_HANDLER: dict[int, type[msgspec.Struct] | None] = {}


def is_json_media(content_type: str) -> bool:
    """``application/json`` or any ``application/*+json`` (parameters such as charset allowed)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON_MEDIA or (media.startswith("application/") and media.endswith("+json"))


def data_struct(route_handler: Any) -> type[msgspec.Struct] | None:
    """The msgspec Struct a handler's ``data`` parameter is annotated with, if any."""
    key = id(route_handler)
    if key not in _STRUCT_OF_HANDLER:
        field = route_handler.parsed_fn_signature.parameters.get("data")
        annotation = getattr(field, "annotation", None)
        is_struct = isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)
        _STRUCT_OF_HANDLER[key] = annotation if is_struct else None
    return _STRUCT_OF_HANDLER[key]


def decode_strict(body: bytes, type_: type[Any]) -> Any:
    """``body`` as ``type_`` with no coercion; errors name the field (422) or the body (400)."""
    try:
        return msgspec.json.decode(body, type=type_, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        message, _, where = text.partition(" - at `")
        field = where.rstrip("`").removeprefix("$").lstrip(".") or "body"
        raise ValidationException(detail=message, extra=[
            {"key": field, "message": message, "source": "body"}]) from None
    except msgspec.DecodeError as exc:
        raise ClientException(f"the request body is not valid JSON ({exc})") from None
    except RecursionError:
        raise ClientException("the request body is nested too deeply to decode; flatten it "
                              "(free-form fields allow a few levels of nesting)") from None


class SynthtsRequest(Request[Any, Any, Any]):
    """Litestar's request with a body read timeout and strict JSON decoding."""

    _reading_body = False
    _body_deadline = 0.0

    def __init__(self, scope: Scope, receive: Receive = empty_receive,
                 send: Send = empty_send) -> None:
        super().__init__(scope, receive, send)
        inner = self.receive

        async def receive_body() -> Message:
            if not self._reading_body:
                return await inner()
            idle = self._idle_timeout()
            left = self._body_deadline - time.monotonic()
            with anyio.move_on_after(max(0.0, min(idle, left))) as scope_:
                message = await inner()
            if scope_.cancelled_caught:
                raise HTTPException(
                    status_code=BODY_TIMEOUT_STATUS,
                    detail=f"the request body stalled: nothing arrived for {idle:g} s or it "
                           f"took longer than {idle * BODY_DEADLINE_FACTOR:g} s in all "
                           "(SYNTHTS_REQUEST_BODY_TIMEOUT_S)")
            return message

        self.receive = receive_body  # type: ignore[method-assign]

    def _idle_timeout(self) -> float:
        try:
            return float(self.app.state.runtime.settings.request_body_timeout_s)
        except AttributeError:  # an app without a synthts runtime
            return 30.0

    async def stream(self):  # type: ignore[no-untyped-def, override]
        self._reading_body = True
        self._body_deadline = time.monotonic() + self._idle_timeout() * BODY_DEADLINE_FACTOR
        try:
            async for chunk in super().stream():
                yield chunk
        finally:
            self._reading_body = False

    async def json(self) -> Any:
        if self._json is not Empty:
            return self._json
        struct = data_struct(self.route_handler)
        if struct is None:
            try:
                return await super().json()
            except RecursionError:
                raise ClientException("the request body is nested too deeply to decode") \
                    from None
        content_type = self.headers.get("content-type", "")
        if not is_json_media(content_type):
            raise HTTPException(
                status_code=415,
                detail=f"this operation takes a JSON body: send 'Content-Type: {JSON_MEDIA}' "
                       f"(got {content_type.split(';', 1)[0].strip() or 'none'!r})")
        body = await self.body()
        self._json = self._connection_state.json = decode_strict(body, struct)
        return self._json
