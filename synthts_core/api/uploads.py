"""Uploaded real series -> a ``Dataset``: CSV/Parquet through the import service, JSON and
``.npy`` parsed here (``.npy`` never unpickles)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
from litestar.openapi.spec import OpenAPIMediaType as MediaTypeObject
from litestar.openapi.spec import Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from synthts_core.domain import Dataset, Normalisation
from synthts_core.errors import BadInputError

FORMATS_BY_MEDIA = {
    "text/csv": "csv", "application/csv": "csv", "application/json": "json",
    "application/x-npy": "npy", "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}


class UploadOptions(msgspec.Struct, kw_only=True):
    name: str
    format: str | None
    label_column: str | None
    columns: list[str] | None
    window: int | None
    stride: int | None
    normalise: str
    tags: list[str]
    content_type: str


class JsonUpload(msgspec.Struct, forbid_unknown_fields=True):
    """Body of a JSON upload."""

    values: list[Any]
    labels: list[int | str] | None = None
    label_names: list[str] | None = None
    description: str = ""


def upload_format(options: UploadOptions) -> str:
    if options.format:
        return options.format
    media = options.content_type.split(";", 1)[0].strip().lower()
    if media in FORMATS_BY_MEDIA:
        return FORMATS_BY_MEDIA[media]
    raise BadInputError("format", f"cannot tell the format from Content-Type {media!r}",
                        allowed="?format=csv|json|npy|parquet or a matching Content-Type")


def parse_upload(body: bytes, options: UploadOptions, max_values: int | None = None) -> Dataset:
    """Parse ``body`` per ``options``; every failure names the field at fault."""
    fmt = upload_format(options)
    if not body:
        raise BadInputError("body", "is empty", allowed=f"a {fmt} file as the request body")
    if fmt in ("csv", "parquet"):
        from synthts_core.services.importing import import_table

        if options.window is None:
            raise BadInputError("window", f"is required for {fmt} uploads (the table is cut "
                                "into windows of this many rows)", allowed="an integer >= 2")
        return import_table(body, fmt, name=options.name, columns=options.columns,
                            label_column=options.label_column, window=options.window,
                            stride=options.stride, normalise=options.normalise,
                            max_values=max_values)
    for opt in ("label_column", "columns", "window", "stride"):
        if getattr(options, opt) is not None:
            raise BadInputError(opt, f"applies to CSV and Parquet, not {fmt}",
                                allowed="leave it out")
    if fmt == "npy":
        from synthts_core.api.encoding import read_npy

        values = read_npy(body, "body")
        return _build(options, values, None, None)
    try:
        doc = msgspec.json.decode(body, type=JsonUpload)
    except msgspec.ValidationError as exc:
        text = str(exc)
        field = text.rsplit("`$.", 1)[-1].rstrip("`") if "`$." in text else "body"
        raise BadInputError(field, text.split(" - at ")[0],
                            allowed='{"values": [[[...]]], "labels": [...], '
                                    '"label_names": [...]}') from None
    except msgspec.DecodeError as exc:
        raise BadInputError("body", f"is not valid JSON ({exc})") from None
    try:
        values = np.asarray(doc.values, dtype=np.float64)
    except ValueError:
        raise BadInputError("values", "is ragged", allowed="equal lengths in every "
                            "series and channel") from None
    labels, names = _labels(doc.labels, doc.label_names)
    return _build(options, values, labels, names, description=doc.description)


def _labels(labels: list[Any] | None, names: list[str] | None
            ) -> tuple[np.ndarray | None, list[str] | None]:
    if labels is None:
        if names:
            raise BadInputError("label_names", "given without labels", allowed="also 'labels'")
        return None, None
    if any(isinstance(x, str) for x in labels):
        if not all(isinstance(x, str) for x in labels):
            raise BadInputError("labels", "mixes names and indices", allowed="all names or "
                                "all integer indices")
        order = list(names or dict.fromkeys(labels))
        unknown = sorted(set(labels) - set(order))
        if unknown:
            raise BadInputError("labels", f"{unknown[0]!r} is not in label_names",
                                allowed=", ".join(order))
        lookup = {n: i for i, n in enumerate(order)}
        return np.array([lookup[x] for x in labels], dtype=np.int64), order
    return np.asarray(labels, dtype=np.int64), names


def _build(options: UploadOptions, values: np.ndarray, labels: np.ndarray | None,
           names: list[str] | None, description: str = "") -> Dataset:
    if values.ndim == 2:
        values = values[:, None, :]
    if values.ndim != 3 or min(values.shape) < 1:
        raise BadInputError("values", f"has shape {values.shape}",
                            allowed="(series, length) or (series, channels, length), non-empty")
    if values.shape[2] < 2:
        raise BadInputError("values", "series have fewer than 2 points", allowed="length >= 2")
    if not np.isfinite(values).all():
        raise BadInputError("values", "contain NaN or infinity", allowed="finite numbers")
    if labels is not None and labels.shape != (values.shape[0],):
        raise BadInputError("labels", f"has {labels.shape[0]} entries for {values.shape[0]} "
                            "series", allowed="one label per series")
    values, norm = _normalise(values, options.normalise)
    return Dataset.build(options.name, values.astype(np.float32), labels, names,
                         source="imported", normalisation=norm, tags=list(options.tags),
                         description=description)


def _normalise(values: np.ndarray, method: str) -> tuple[np.ndarray, Normalisation]:
    if method == "none":
        return values, Normalisation()
    axes = (0, 2)
    if method == "zscore":
        offset = values.mean(axis=axes)
        scale = values.std(axis=axes)
    else:
        offset = values.min(axis=axes)
        scale = values.max(axis=axes) - offset
    scale = np.where(scale > 0, scale, 1.0)
    out = (values - offset[None, :, None]) / scale[None, :, None]
    return out, Normalisation(method=method, offset=offset.tolist(),  # type: ignore[arg-type]
                              scale=scale.tolist())


@dataclass
class _UploadOperation(Operation):
    """Documents the raw request body of an upload (the handler reads it itself)."""

    def __post_init__(self) -> None:
        binary = MediaTypeObject(schema=Schema(type=OpenAPIType.STRING, format="binary"))  # type: ignore[arg-type]
        self.request_body = RequestBody(required=True, content={
            "text/csv": binary,
            "application/x-npy": binary,
            "application/vnd.apache.parquet": binary,
            "application/json": MediaTypeObject(schema=Schema(
                type=OpenAPIType.OBJECT, required=["values"],
                properties={"values": Schema(type=OpenAPIType.ARRAY, items=Schema()),
                            "labels": Schema(type=[OpenAPIType.ARRAY, OpenAPIType.NULL],
                                             items=Schema()),
                            "label_names": Schema(type=[OpenAPIType.ARRAY, OpenAPIType.NULL],
                                                  items=Schema(type=OpenAPIType.STRING))})),
        })


UPLOAD_OPERATION = _UploadOperation
