"""Uploaded real series -> a ``Dataset`` through the same import path as ``synthts import``
(same layouts, defaults, label order and checks; see ``synthts_core.services.importing``).

Uploads obey SYNTHTS_MAX_GENERATE_VALUES like generation does: the values are counted before
they are decoded (the ``.npy`` header, the commas of a JSON array), and JSON value arrays are
parsed straight into NumPy, never into Python lists of floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
from litestar.openapi.spec import OpenAPIMediaType as MediaTypeObject
from litestar.openapi.spec import Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from synthts_core.api import encoding
from synthts_core.errors import BadInputError
from synthts_core.services.importing import FORMATS, ImportOptions, ImportResult

if TYPE_CHECKING:
    from synthts_core.services.datasets import DatasetService

FORMATS_BY_MEDIA = {
    **{media: fmt for fmt, media in encoding.MEDIA_TYPES.items()},
    "application/csv": "csv", "application/x-parquet": "parquet", "application/zip": "npz",
}


class UploadOptions(ImportOptions, kw_only=True):
    """The query parameters of an upload: the declared ``ImportOptions`` (a test checks the
    endpoint's parameters against them) and the body's Content-Type."""

    content_type: str = ""


def upload_format(options: UploadOptions) -> str:
    if options.format:
        return options.format
    media = options.content_type.split(";", 1)[0].strip().lower()
    if media in FORMATS_BY_MEDIA:
        return FORMATS_BY_MEDIA[media]
    raise BadInputError("format", f"cannot tell the format from Content-Type {media!r}",
                        allowed=f"?format={'|'.join(FORMATS)} or a matching Content-Type")


def import_upload(body: bytes, options: UploadOptions, datasets: DatasetService) -> ImportResult:
    """Parse ``body`` per ``options`` (within SYNTHTS_MAX_GENERATE_VALUES; nothing stored);
    every failure names the field at fault."""
    fmt = upload_format(options)
    if not body:
        raise BadInputError("body", "is empty", allowed=f"a {fmt} file as the request body")
    opts = msgspec.structs.replace(options, format=fmt)
    try:
        return datasets.parse(body, opts, limited=True)
    except BadInputError as exc:
        if exc.field != "source":
            raise
        text = exc.message.removeprefix("source: ")
        if exc.allowed:
            text = text.removesuffix(f" (allowed: {exc.allowed})")
        raise BadInputError("body", text, allowed=exc.allowed) from None  # the upload's file


@dataclass
class _UploadOperation(Operation):
    """Documents the raw request body of an upload (the handler reads it itself)."""

    def __post_init__(self) -> None:
        binary = MediaTypeObject(schema=Schema(type=OpenAPIType.STRING, format="binary"))  # type: ignore[arg-type]
        files = {media: binary for fmt, media in encoding.MEDIA_TYPES.items() if fmt != "json"}
        self.request_body = RequestBody(required=True, content={
            **files,
            encoding.JSON: MediaTypeObject(schema=Schema(
                type=OpenAPIType.OBJECT, required=["values"],
                properties={"values": Schema(type=OpenAPIType.ARRAY, items=Schema()),
                            "labels": Schema(type=[OpenAPIType.ARRAY, OpenAPIType.NULL],
                                             items=Schema()),
                            "label_names": Schema(type=[OpenAPIType.ARRAY, OpenAPIType.NULL],
                                                  items=Schema(type=OpenAPIType.STRING)),
                            "description": Schema(type=OpenAPIType.STRING)})),
        })


UPLOAD_OPERATION = _UploadOperation


def _dry_run_spec():
    from litestar.openapi.datastructures import ResponseSpec

    from synthts_core.services.importing import ImportReport

    return ResponseSpec(data_container=ImportReport,
                        description="Dry run: what would be stored; nothing is stored")


UPLOAD_DRY_RUN = _dry_run_spec()
