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
