"""Array payloads: ``.npy`` bytes, content negotiation and ETags.

Arrays leave the API either as compact JSON or as ``.npy`` (float32, little-endian, the NumPy
format any language can read); the client picks with ``?format=`` or the ``Accept`` header.
Label indices of a binary payload travel in headers as run-lengths, which stay short because
series are grouped by label.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from litestar import Request, Response
from litestar.openapi.spec import OpenAPIMediaType as MediaTypeObject
from litestar.openapi.spec import Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType

from synthts_core.errors import BadInputError

NPY = "application/x-npy"
JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
HTML = "text/html"
BINARY_ACCEPT = (NPY, "application/octet-stream")
LABEL_RUNS_HEADER = "X-Synthts-Label-Runs"
LABEL_NAMES_HEADER = "X-Synthts-Label-Names"
SHAPE_HEADER = "X-Synthts-Shape"


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as ``.npy`` bytes (float arrays as little-endian float32)."""
    if array.dtype.kind == "f":
        array = np.ascontiguousarray(array, dtype="<f4")
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def read_npy(data: bytes, field: str = "file") -> np.ndarray:
    """Parse an uploaded ``.npy`` without ever unpickling (object arrays are refused)."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:
        raise BadInputError(field, f"is not a readable .npy file ({type(exc).__name__})",
                            allowed="a NumPy .npy array of numbers, no pickled objects") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiub":
        raise BadInputError(field, "holds no numeric array", allowed="a numeric .npy array")
    return array


def wants_binary(request: Request[Any, Any, Any], fmt: str | None) -> bool:
    """``?format=`` wins; otherwise an ``Accept`` that names .npy before JSON."""
    if fmt is not None:
        return fmt == "npy"
    accept = request.headers.get("accept", "")
    return any(t in accept for t in BINARY_ACCEPT) and "application/json" not in accept


def label_runs(labels: np.ndarray | None) -> str:
    """``0*1000,1*1000`` - run-length encoding of label indices for a header."""
    if labels is None or len(labels) == 0:
        return ""
    labels = np.asarray(labels)
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]])
    return ",".join(f"{int(labels[s])}*{int(e - s)}" for s, e in zip(starts, ends, strict=True))


def npy_response(values: np.ndarray, labels: np.ndarray | None = None,
                 label_names: Sequence[str] = (), headers: dict[str, str] | None = None,
                 status_code: int = 200) -> Response[bytes]:
    out = {SHAPE_HEADER: ",".join(str(d) for d in values.shape), **(headers or {})}
    if labels is not None:
        out[LABEL_RUNS_HEADER] = label_runs(labels)
    if label_names:
        out[LABEL_NAMES_HEADER] = json.dumps(list(label_names), ensure_ascii=True)
    return Response(npy_bytes(values), media_type=NPY, headers=out, status_code=status_code)


_SLOT = np.dtype([("sign", "S1"), ("d0", "S1"), ("dot", "S1"), ("hi", "S3"), ("lo", "S3"),
                  ("e", "S1"), ("esign", "S1"), ("exp", "S2"), ("sep", "S1")])
_T3 = np.array([f"{i:03d}".encode() for i in range(1000)], "S3")
_T2 = np.array([f"{i:02d}".encode() for i in range(100)], "S2")
_T1 = np.array([str(i).encode() for i in range(10)], "S1")
_P10 = 10.0 ** np.arange(-60, 61)
_SPACE = 32
_SPACE_BYTE, _MINUS, _PLUS = np.uint8(_SPACE), np.uint8(ord("-")), np.uint8(ord("+"))


def json_array(values: np.ndarray) -> bytes:
    """Nested JSON arrays of ``values`` (float32 precision: 7 significant digits), written
    by NumPy into one byte buffer: no Python float or list per value, so 100 x 1024 values
    encode in a few milliseconds. Every number has the same width (``-1.234567e-01``; zero is
    ``0`` and NaN or infinity ``null``, padded with JSON whitespace), which is what lets the
    digits be laid out with array operations."""
    a = np.asarray(values)
    shape = a.shape
    if a.ndim == 0 or a.size == 0:
        return json.dumps(a.tolist()).encode()
    flat = np.ascontiguousarray(a, dtype=np.float32).reshape(-1)
    n = flat.size
    absval = np.abs(flat)
    finite = np.isfinite(flat)
    nz = finite & (absval > 0)
    safe = np.where(nz, absval, np.float32(1.0))
    exp = np.floor(np.log10(safe)).astype(np.int32)
    wide = safe.astype(np.float64)
    m = np.rint(wide * np.take(_P10, 66 - exp)).astype(np.int32)  # 7 digits: 10**6..10**7
    low = m < 1_000_000  # log10 rounded up just below a power of ten
    if low.any():
        exp[low] -= 1
        m[low] = np.rint(wide[low] * np.take(_P10, 66 - exp[low])).astype(np.int32)
    over = m >= 10_000_000  # rounding carried into an eighth digit
    if over.any():
        m[over] = (m[over] + 5) // 10
        exp[over] += 1
    rec = np.empty(n, _SLOT)
    vals = rec.view(np.uint8).reshape(n, _SLOT.itemsize)
    vals[:, 0] = np.where(np.signbit(flat) & nz, _MINUS, _SPACE_BYTE)
    rec["d0"] = np.take(_T1, m // 1_000_000)
    vals[:, 2] = ord(".")
    rest = m % 1_000_000
    rec["hi"] = np.take(_T3, rest // 1000)
    rec["lo"] = np.take(_T3, rest % 1000)
    vals[:, 9] = ord("e")
    vals[:, 10] = np.where(exp < 0, _MINUS, _PLUS)
    rec["exp"] = np.take(_T2, np.abs(exp))
    vals[:, 13] = ord(",")
    if not nz.all():
        zero = finite & ~nz
        vals[zero, 1:13] = _SPACE
        vals[zero, 1] = ord("0")
        bad = ~finite
        vals[bad, :13] = _SPACE
        vals[bad, 1:5] = np.frombuffer(b"null", np.uint8)
    L = shape[-1]
    rows = n // L
    nd = len(shape)
    body_w = L * _SLOT.itemsize
    width = nd + body_w + nd + 1
    buf = np.empty((rows, width), np.uint8)
    buf[:, nd:nd + body_w] = vals.reshape(rows, body_w)
    buf[:, nd + body_w - 1] = _SPACE
    idx = np.arange(rows)
    outer = np.cumprod(shape[-2::-1])
    buf[:, nd - 1] = ord("[")
    for k in range(nd - 1):
        buf[:, nd - 2 - k] = np.where(idx % outer[k] == 0, ord("["), _SPACE)
    tail = nd + body_w
    buf[:, tail] = ord("]")
    for k in range(nd - 1):
        buf[:, tail + 1 + k] = np.where((idx + 1) % outer[k] == 0, ord("]"), _SPACE)
    buf[:, width - 1] = np.where(idx < rows - 1, ord(","), _SPACE)
    return buf.tobytes()


def location(collection: str, name: str) -> str:
    """A ``Location`` header value: the name percent-encoded, so no byte of it can end the
    header line (names are validated before this; this keeps headers safe regardless)."""
    from urllib.parse import quote

    return f"{collection}/{quote(name, safe='')}"


def attachment(filename: str) -> str:
    """``Content-Disposition`` for a download: an ASCII fallback name with anything outside
    ``[A-Za-z0-9._-]`` replaced, plus the exact name percent-encoded (RFC 6266 / 8187)."""
    import re
    from urllib.parse import quote

    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def etag_for(*parts: Any) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def not_modified(request: Request[Any, Any, Any], etag: str) -> bool:
    given = request.headers.get("if-none-match")
    return given is not None and (given.strip() == "*" or etag in [t.strip() for t in
                                                                     given.split(",")])


def alternative_media(*media: tuple[str, str]) -> type[Operation]:
    """An OpenAPI ``Operation`` class whose 200 response also lists ``media`` (type, format)
    beside the JSON schema Litestar derives from the return annotation."""

    @dataclass
    class _WithAlternatives(Operation):
        def __post_init__(self) -> None:
            ok = (self.responses or {}).get("200")
            content = getattr(ok, "content", None)
            if content is None:
                return
            for media_type, fmt in media:
                if fmt == "json":
                    schema = Schema(type=OpenAPIType.OBJECT, additional_properties=Schema())
                else:
                    schema = Schema(type=OpenAPIType.STRING, format=fmt)  # type: ignore[arg-type]
                content[media_type] = MediaTypeObject(schema=schema)

    return _WithAlternatives


def sole_media(media_type: str, schema: Schema | None = None) -> type[Operation]:
    """An ``Operation`` class whose 200 response is documented as ``media_type`` only (e.g.
    ``text/event-stream``, which Litestar would otherwise document as JSON)."""

    @dataclass
    class _SoleMedia(Operation):
        def __post_init__(self) -> None:
            ok = (self.responses or {}).get("200")
            if getattr(ok, "content", None) is not None:
                ok.content = {media_type: MediaTypeObject(  # type: ignore[union-attr]
                    schema=schema or Schema(type=OpenAPIType.STRING))}

    return _SoleMedia


SSE_EVENT = Schema(
    type=OpenAPIType.OBJECT, required=["data"],
    description="One server-sent event (OpenAPI 3.1: the schema of each event)",
    properties={"event": Schema(type=OpenAPIType.STRING), "data": Schema(type=OpenAPIType.STRING),
                "id": Schema(type=OpenAPIType.STRING), "retry": Schema(type=OpenAPIType.INTEGER)})
