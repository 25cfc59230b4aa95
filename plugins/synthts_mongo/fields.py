"""Records as BSON sub-documents, so a Mongo user can query them
(``db.synthts_jobs.find({"doc.spec.dataset": "sines"})``).

A record (``DatasetMeta``, ``TrainingJob``) becomes msgspec builtins (datetimes as ISO strings,
so they round-trip to the microsecond; the indexed ``created_at``/``updated_at`` beside them are
BSON dates), then three things BSON cannot hold as they are get encoded:

- dict keys containing ``%``, ``.``, ``$`` or NUL (keys of specs, metrics and search spaces come
  from users): those characters become ``%XX`` (``a.b`` -> ``a%2Eb``); every other key is kept,
  so the usual ones are queried by their own names;
- integers beyond 64 bits: ``{"%int": "<digits>"}`` (no user key can read ``%int``: a user's
  ``%`` is always escaped);
- NaN and infinities need nothing: BSON doubles hold them.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from synthts_core.storage_support import CorruptDataError

T = TypeVar("T")
_SPECIAL = re.compile(r"[%.$\x00]")
_ESCAPED = re.compile(r"%([0-9A-F]{2})")
BIG_INT = "%int"
INT64 = (-(2**63), 2**63 - 1)


def _escape_key(key: str) -> str:
    return _SPECIAL.sub(lambda m: f"%{ord(m.group()):02X}", key) if _SPECIAL.search(key) else key


def _unescape_key(key: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), key) if "%" in key else key


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {_escape_key(str(k)): _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) \
            and not INT64[0] <= value <= INT64[1]:
        return {BIG_INT: str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and BIG_INT in value:
            return int(value[BIG_INT])
        return {_unescape_key(k): _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def to_document(record: Any) -> dict[str, Any]:
    """A msgspec struct as a BSON-ready sub-document."""
    return _encode(msgspec.to_builtins(record, str_keys=True))


def from_json_text(text: str | bytes) -> dict[str, Any]:
    """A record stored as JSON text (schema 1) as a sub-document, without validating it (a
    record that does not fit its type stays readable as corrupt, exactly as before)."""
    data = msgspec.json.decode(text)
    if not isinstance(data, dict):
        raise msgspec.DecodeError("not a JSON object")
    return _encode(data)


def plain(document: Any) -> Any:
    """A stored sub-document back as plain builtins (keys and big integers decoded)."""
    return _decode(document)


UNREADABLE = (msgspec.ValidationError, msgspec.DecodeError, ValueError, TypeError)
"""What decoding a record that does not fit its type raises."""


def convert(document: Any, type_: type[T]) -> T:
    """The struct a sub-document holds (raises one of ``UNREADABLE`` when it does not fit)."""
    return msgspec.convert(_decode(document), type_, str_keys=True)


def from_document(document: Any, type_: type[T], what: str) -> T:
    """Like ``convert``, but a record that does not fit is a ``CorruptDataError`` naming
    ``what`` (e.g. ``dataset 'x'``)."""
    try:
        return convert(document, type_)
    except UNREADABLE as exc:
        raise CorruptDataError(f"{what}: {unreadable(exc)}") from None


def unreadable(exc: Exception) -> str:
    """The reason a record is unreadable, worded as the other backends word it."""
    return f"its stored metadata cannot be read ({exc}); delete it and store it again"
