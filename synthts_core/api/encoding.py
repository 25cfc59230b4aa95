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
NPZ = "application/x-npz"
TS = "text/x-ts"
HTML = "text/html"
MEDIA_TYPES = {"csv": CSV, "npy": NPY, "npz": NPZ, "parquet": PARQUET, "ts": TS, "json": JSON}
"""Each file format's media type: what an export answers with and what an upload may be sent
as (``uploads`` adds the aliases clients also send)."""
BINARY_ACCEPT = (NPY, "application/octet-stream")
LABEL_RUNS_HEADER = "X-Synthts-Label-Runs"
LABEL_NAMES_HEADER = "X-Synthts-Label-Names"
SHAPE_HEADER = "X-Synthts-Shape"


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as ``.npy`` bytes (float arrays as little-endian float32): the format's
    header, then the values copied once."""
    array = np.ascontiguousarray(array, dtype="<f4" if array.dtype.kind == "f" else None)
    if array.dtype.hasobject:
        raise ValueError("object arrays have no .npy form without pickling")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header,
                                         np.lib.format.header_data_from_array_1_0(array))
    return b"".join((header.getvalue(), array.data.cast("B") if array.size else b""))


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


_WIDTH = 16  # "-1.23456789e-01," : sign, 9 significant digits, exponent, separator
_SLOT = np.dtype({"names": ["sign", "d0", "dot", "digits", "exp", "sep"],
                  "formats": ["u1", "u1", "u1", "<u8", "<u4", "u1"],
                  "offsets": [0, 1, 2, 3, 11, 15], "itemsize": _WIDTH})
_P10 = 10.0 ** np.arange(-70, 71)  # _P10[70 + k] == 10.0 ** k
_EXP = np.frombuffer(b"".join(f"e{k:+03d}".encode() for k in range(-60, 61)), "<u4")
"""``e-60`` .. ``e+60`` as 4 ASCII bytes each; ``_EXP[60 + k]`` is the exponent ``k``."""
_SPACE = 32


def _ascii_digits(r: np.ndarray) -> np.ndarray:
    """The 8 decimal digits of each ``r`` (uint32 below 10**8) as ASCII bytes packed in a
    little-endian uint64, first digit in the lowest byte: split into 4-digit, then 2-digit,
    then 1-digit lanes with multiply-and-shift division, all in place."""
    hi = r // 10_000
    v = hi.astype(np.uint64)
    t = np.subtract(r, hi * 10_000, dtype=np.uint64)
    t <<= 32
    v |= t  # two 32-bit lanes of 4 digits
    q = v * 5243
    q >>= 19
    q &= 0x0000007F0000007F  # lane // 100 (exact below 43699)
    np.multiply(q, 100, out=t)
    v -= t
    v <<= 16
    v |= q  # four 16-bit lanes of 2 digits
    np.multiply(v, 103, out=q)
    q >>= 10
    q &= 0x000F000F000F000F  # lane // 10 (exact below 179)
    np.multiply(q, 10, out=t)
    v -= t
    v <<= 8
    v |= q  # eight bytes of 1 digit
    v |= 0x3030303030303030
    return v.astype("<u8", copy=False)


def json_array(values: np.ndarray, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    """Nested JSON arrays of ``values`` as float32, written by NumPy into one byte buffer
    (between ``prefix`` and ``suffix``, so a document around it costs no further copy): no
    Python float or list per value, so 100 x 1024 values encode in a couple of milliseconds.

    Every number has 9 significant digits (``-1.23456789e-01``), which is enough for any
    float32 to parse back to exactly the same float32; zero is ``0.0`` (``-0.0``) and NaN or
    infinity ``null`` (JSON has neither), padded with JSON whitespace. The fixed width is what
    lets the digits be laid out with array operations."""
    a = np.asarray(values)
    shape = a.shape
    if a.size == 0:  # nested empty lists: no number to write
        return b"".join((prefix, json.dumps(a.tolist()).encode(), suffix))
    if a.ndim == 0:  # one number: as float32, NaN or infinity as null like the rest
        v = float(np.float32(a))
        return b"".join((prefix, (json.dumps(v) if np.isfinite(v) else "null").encode(), suffix))
    flat = np.ascontiguousarray(a, dtype=np.float32).reshape(-1)
    n = flat.size
    absval = np.abs(flat)
    finite = np.isfinite(flat)
    nz = finite & (absval > 0)
    plain = bool(nz.all())
    safe = absval if plain else np.where(nz, absval, np.float32(1.0))
    exp = np.floor(np.log10(safe)).astype(np.int32)
    wide = safe.astype(np.float64)
    wide *= np.take(_P10, 78 - exp)  # 9 digits: 10**8 <= m < 10**9
    m = np.rint(wide, out=wide).astype(np.uint32)
    off = (m < 100_000_000) | (m >= 1_000_000_000)
    if off.any():  # log10 rounded across a power of ten (or its rounding carried a digit)
        exp[off] += np.where(m[off] < 100_000_000, -1, 1).astype(np.int32)
        m[off] = np.rint(safe[off].astype(np.float64)
                         * np.take(_P10, 78 - exp[off])).astype(np.uint32)
    d0 = m // 100_000_000
    rec = np.empty(n, _SLOT)
    rec["sign"] = np.signbit(flat).view(np.uint8) * 13 + _SPACE  # "-" or " "
    rec["d0"] = d0 + ord("0")
    rec["dot"] = ord(".")
    rec["digits"] = _ascii_digits(m - d0 * 100_000_000)
    exp += 60
    rec["exp"] = np.take(_EXP, exp)
    rec["sep"] = ord(",")
    vals = rec.view(np.uint8).reshape(n, _WIDTH)
    if not plain:
        zero = finite & ~nz
        vals[zero, 1:_WIDTH - 1] = _SPACE
        vals[zero, 1:4] = np.frombuffer(b"0.0", np.uint8)
        bad = ~finite
        vals[bad, :_WIDTH - 1] = _SPACE
        vals[bad, 1:5] = np.frombuffer(b"null", np.uint8)
    L = shape[-1]
    rows = n // L
    nd = len(shape)
    body_w = L * _WIDTH
    width = nd + body_w + nd + 1
    out = np.empty(len(prefix) + rows * width + len(suffix), np.uint8)
    out[:len(prefix)] = np.frombuffer(prefix, np.uint8)
    out[len(out) - len(suffix):] = np.frombuffer(suffix, np.uint8)
    buf = out[len(prefix):len(out) - len(suffix)].reshape(rows, width)
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
    return out.tobytes()


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
