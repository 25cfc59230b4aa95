"""Datasets: generate server-side or upload, list, inspect, read values, plot, export, delete.

Generation and parsing run in worker threads (``sync_to_thread``) so the event loop keeps
answering while a large set is built. Values leave as JSON or ``.npy``; the stored checksum
makes an ETag so repeated reads of an unchanged dataset cost a 304.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import numpy as np
from litestar import Controller, Request, Response, delete, get, post
from litestar.concurrency import sync_to_thread
from litestar.openapi.spec import Example
from litestar.params import Parameter

from synthts_core.api import encoding
from synthts_core.api.links import linked
from synthts_core.api.problems import problems
from synthts_core.api.schemas import (
    DatasetCreate,
    DatasetPage,
    DatasetRead,
    PageInfo,
    ValuesRead,
)
from synthts_core.api.security import WRITE_SECURITY
from synthts_core.api.state import UploadSlots
from synthts_core.api.uploads import (
    UPLOAD_DRY_RUN,
    UPLOAD_OPERATION,
    UploadOptions,
    import_upload,
)
from synthts_core.domain import DatasetQuery, DatasetSort
from synthts_core.normalisation import Units
from synthts_core.services.datasets import DatasetService, ExportFormat, ExportLayout
from synthts_core.services.importing.options import Format, Layout, NormaliseMethod

NameParam = Parameter(max_length=128, description="Dataset name",
                      examples=[Example(summary="a dataset", value="harmonics")])


class DatasetsController(Controller):
    path = "/datasets"
    tags = ["datasets"]

    @post("/", operation_id="createDataset", sync_to_thread=True, security=WRITE_SECURITY,
          responses=problems(401, 409, 413, 415), operation_class=linked("createDataset"))
    def create_dataset(self, datasets: DatasetService,
                       data: DatasetCreate) -> Response[DatasetRead]:
        """Generate a dataset server-side from a spec or a preset and store it (201 with its
        metadata). The volume (series x channels x length) is checked against
        SYNTHTS_MAX_GENERATE_VALUES before any work; a taken name is a 409."""
        spec = datasets.spec_for(
            data.name, spec=None if data.spec is None else msgspec.to_builtins(data.spec),
            preset=data.preset, tags=data.tags, description=data.description,
            overrides=None if data.overrides is None else msgspec.to_builtins(data.overrides))
        meta = datasets.create(spec)
        return Response(DatasetRead.from_domain(meta), status_code=201,
                        headers={"Location": encoding.location("/api/v1/datasets", meta.name)})

    @post("/upload", operation_id="uploadDataset", security=WRITE_SECURITY,
          operation_class=UPLOAD_OPERATION, responses={**problems(401, 408, 409, 413, 415, 429),
                                                       200: UPLOAD_DRY_RUN})
    async def upload_dataset(
        self, request: Request[Any, Any, Any], datasets: DatasetService, uploads: UploadSlots,
        name: str = Parameter(max_length=128, description="Name of the new dataset"),
        format: Format | None = Parameter(
            default=None, description="Body format; default from Content-Type"),
        layout: Layout = Parameter(
            default="auto", description="Tables: long (one row per time point) or wide (one "
            "row per series); auto: long when window or time_column is given"),
        label_column: str | None = Parameter(default=None, max_length=128,
                                             description="Table column holding labels"),
        series_column: str | None = Parameter(default=None, max_length=128, description=(
            "Long tables: recording id; windows never span two recordings")),
        time_column: str | None = Parameter(default=None, max_length=128,
                                            description="Long tables: time of each row"),
        channel_column: str | None = Parameter(default=None, max_length=128, description=(
            "Channel of each row (long: with one value column; wide: one row per channel)")),
        columns: list[str] | None = Parameter(default=None, description="Value columns; "
                                              "default: every numeric column without a role"),
        window: int | None = Parameter(default=None, ge=2, le=10_000_000,
                                       description="Cut each series into windows this long"),
        stride: int | None = Parameter(default=None, ge=1, le=10_000_000,
                                       description="Step between windows (default: window)"),
        normalise: NormaliseMethod = Parameter(
            default="zscore", description="Normalisation recorded beside the values (stored as "
            "given) for reads with units=normalised"),
        tags: list[str] | None = Parameter(default=None, description="Tags of the dataset"),
        holdout: float | None = Parameter(
            default=None, gt=0, lt=1, description="Keep this fraction of each class out of "
            "training (stratified, drawn with holdout_seed): evaluations score TSTR and the "
            "memorisation guard against it"),
        holdout_from: int | None = Parameter(
            default=None, ge=1, le=10**9, description="Keep the series from this index on "
            "(in the order read, after windowing) out of training: a TRAIN and a TEST file "
            "uploaded as one body"),
        holdout_seed: int = Parameter(default=0, ge=0, le=2**31 - 1,
                                      description="Seed of the holdout draw"),
        dry_run: bool = Parameter(default=False, description="Answer 200 with what would be "
                                  "stored (series, channels, labels, dropped rows) and store "
                                  "nothing"),
    ) -> Response[Any]:
        """Store real series uploaded as the raw body, through the same import as ``synthts
        import`` (same defaults: zscore, labels in natural order): a CSV/Parquet/JSON table in
        the long or wide layout, JSON ``{"values": [[[...]]], "labels": [...],
        "label_names": [...]}``, ``.npy``/``.npz`` ((series, length) or (series, channels,
        length), with ``labels``) or a sktime/aeon ``.ts`` file. ``holdout`` (a fraction of
        each class) or ``holdout_from`` (the series from that index on) are kept out of
        training. A missing point (``null`` in JSON, an empty cell or NaN/NA in a table,
        ``?`` in ``.ts``, NaN in ``.npy``) is kept as missing, never filled in.
        ``dry_run`` answers 200 with what would be stored. Limits: SYNTHTS_MAX_REQUEST_BYTES for the body,
        SYNTHTS_MAX_GENERATE_VALUES for the values."""
        options = UploadOptions(name=name, format=format, label_column=label_column,
                                columns=columns, window=window, stride=stride,
                                normalise=normalise, tags=tags or [],
                                content_type=request.headers.get("content-type", ""),
                                layout=layout, series_column=series_column,
                                time_column=time_column, channel_column=channel_column,
                                holdout=holdout, holdout_from=holdout_from,
                                holdout_seed=holdout_seed)
        with uploads:  # a 429 while SYNTHTS_MAX_CONCURRENT_UPLOADS are in progress
            body = await request.body()  # a 408 when the body stalls
            await sync_to_thread(datasets.ensure_free, name)
            result = await sync_to_thread(import_upload, body, options, datasets)
            if dry_run:
                return Response(result.report, status_code=200)
            meta = await sync_to_thread(datasets.store, result.dataset)
        return Response(DatasetRead.from_domain(meta), status_code=201,
                        headers={"Location": encoding.location("/api/v1/datasets", meta.name)})

    @get("/", operation_id="listDatasets", sync_to_thread=True, responses=problems(),
         operation_class=linked("listDatasets"))
    def list_datasets(
        self, datasets: DatasetService,
        offset: int = Parameter(default=0, ge=0, le=10**9, description="Items to skip"),
        limit: int = Parameter(default=50, ge=1, le=500, description="Items per page"),
        sort: DatasetSort = Parameter(default="-created_at",
                                      description="Sort key; '-' for descending"),
        name_contains: str | None = Parameter(default=None, max_length=128,
                                              description="Substring of the name"),
        tag: list[str] | None = Parameter(default=None, description="Has every tag"),
        generator: str | None = Parameter(default=None, max_length=128,
                                          description="Made with this generator"),
        label: str | None = Parameter(default=None, max_length=128,
                                      description="Has a class with this label"),
        source: Literal["generated", "imported", "synthetic"] | None = Parameter(
            default=None, description="How the dataset was made"),
    ) -> DatasetPage:
        """A page of datasets, newest first by default, with paging metadata. Filters are
        passed to storage as values, never as query text."""
        query = DatasetQuery(offset=offset, limit=limit, sort=sort, name_contains=name_contains,
                             tags=tag or [], generator=generator, label=label, source=source)
        page = datasets.list(query)
        return DatasetPage(items=[DatasetRead.from_domain(m) for m in page.items],
                           page=PageInfo.of(page.total, offset, limit))

    @get("/{name:str}", operation_id="getDataset", sync_to_thread=True, responses=problems(404))
    def get_dataset(self, request: Request[Any, Any, Any], datasets: DatasetService,
                    name: str = NameParam) -> Response[DatasetRead]:
        """Metadata: shape, labels and counts, time axis, the spec that made it, checksum."""
        meta = datasets.get(name)
        read = DatasetRead.from_domain(meta)
        etag = encoding.etag_for(msgspec.json.encode(read))
        if encoding.not_modified(request, etag):
            return Response(None, status_code=304, headers={"ETag": etag})  # type: ignore[arg-type]
        return Response(read, headers={"ETag": etag, "Cache-Control": "no-cache"})

    @get("/{name:str}/values", operation_id="getDatasetValues", sync_to_thread=True,
         responses=problems(404, 413), operation_class=encoding.alternative_media(
             (encoding.NPY, "binary")))
    def get_values(
        self, request: Request[Any, Any, Any], datasets: DatasetService, name: str = NameParam,
        offset: int = Parameter(default=0, ge=0, le=10**9,
                                description="First series (after the label filter)"),
        limit: int = Parameter(default=100, ge=1, le=100_000, description="Series to return"),
        label: list[str] | None = Parameter(default=None, description="Only these labels"),
        per_label: int | None = Parameter(default=None, ge=1, le=100_000,
                                          description="At most this many series per label"),
        channel: list[int] | None = Parameter(default=None, description="Only these channels"),
        format: Literal["json", "npy"] | None = Parameter(
            default=None, description="json or npy; default from the Accept header"),
        units: Units = Parameter(
            default="real", description="real: exactly as imported; normalised: through the "
            "normalisation recorded at import"),
    ) -> Response[ValuesRead]:
        """A slice of the values: series ``offset`` to ``offset + limit`` (optionally only some
        labels, some channels, or the first ``per_label`` of each label), as JSON or as a
        float32 ``.npy`` (label indices then travel in the X-Synthts-Label-Runs header). A
        missing point is ``null`` in JSON and NaN in ``.npy``."""
        selection = datasets.select(name, offset=offset, limit=limit, labels=label,
                                    per_label=per_label, channels=channel)
        meta, series, channels = selection.meta, selection.series, selection.channels
        binary = encoding.wants_binary(request, format)
        etag = encoding.etag_for(meta.checksum, series[:1], len(series), channels, binary,
                                 offset, limit, label, per_label, units)
        if encoding.not_modified(request, etag):
            return Response(None, status_code=304, headers={"ETag": etag})  # type: ignore[arg-type]
        ds = datasets.read_selection(selection, units, limited=not binary)
        headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Synthts-Units": units}
        if binary:
            return encoding.npy_response(ds.values, ds.labels, meta.label_names, headers)
        times = np.asarray(ds.time_grid(), dtype=np.float64)
        values = ds.values.astype(np.float64)
        if ds.lengths is None:
            rows, series_times = values.tolist(), times.tolist() if times.ndim == 2 else None
        else:  # each series as long as it is: padding is never written
            ends = ds.lengths.tolist()
            rows = [v[:, :k].tolist() for v, k in zip(values, ends, strict=True)]
            series_times = [t[:k].tolist() for t, k in zip(times, ends, strict=True)] \
                if times.ndim == 2 else None
        body = ValuesRead(
            name=name, offset=offset, shape=list(ds.values.shape), channels=channels,
            label_names=list(meta.label_names),
            labels=ds.labels.tolist() if ds.labels is not None else None,
            times=times.tolist() if times.ndim == 1 else None,
            series_times=series_times, values=rows,
            lengths=None if ds.lengths is None else ds.lengths.tolist())
        return Response(body, headers=headers)

    @get("/{name:str}/figure", operation_id="getDatasetFigure", sync_to_thread=True,
         responses=problems(404), operation_class=encoding.alternative_media(
             (encoding.HTML, "html")))
    def get_figure(
        self, datasets: DatasetService,
        name: str = NameParam,
        per_label: int = Parameter(default=3, ge=1, le=50, description="Series per label"),
        label: list[str] | None = Parameter(default=None, description="Only these labels"),
        channel: int = Parameter(default=0, ge=0, le=1023, description="Channel to plot"),
        format: Literal["json", "html"] = Parameter(
            default="json", description="Plotly figure JSON, or a standalone HTML page"),
    ) -> Response[dict[str, Any]]:
        """A plotly figure of a few series per label: JSON for clients that render plotly,
        or a standalone HTML page to open in a browser."""
        from synthts_core import figures

        meta, fig = datasets.figure(name, per_label=per_label, labels=label, channel=channel)
        etag = encoding.etag_for(meta.checksum, "figure", per_label, label, channel, format)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if format == "html":
            return Response(figures.to_html(fig, f"dataset {name}"),  # type: ignore[arg-type]
                            media_type=encoding.HTML, headers=headers)
        return Response(msgspec.json.decode(fig.to_json()), headers=headers)

    @get("/{name:str}/export", operation_id="exportDataset", sync_to_thread=True,
         responses=problems(404), operation_class=encoding.alternative_media(
             (encoding.CSV, "binary"), (encoding.PARQUET, "binary"), (encoding.NPY, "binary"),
             ("application/x-npz", "binary"), ("text/x-ts", "binary")))
    def export_dataset(
        self, request: Request[Any, Any, Any], datasets: DatasetService, name: str = NameParam,
        format: ExportFormat = Parameter(
            default="csv", description="File format"),
        layout: ExportLayout = Parameter(
            default="long", description="Tables: one row per value, or one per series and "
            "channel"),
        units: Units = Parameter(
            default="real", description="real: exactly as imported; normalised: through the "
            "normalisation recorded at import"),
    ) -> Response[bytes]:
        """The whole dataset as a file download (CSV, Parquet, ``.npy``, ``.npz`` with labels,
        or sktime ``.ts``), in real units unless ``units=normalised``; any of them uploads
        back unchanged."""
        meta = datasets.get(name)
        etag = encoding.etag_for(meta.checksum, "export", format, layout, units)
        if encoding.not_modified(request, etag):
            return Response(b"", status_code=304, headers={"ETag": etag})
        data = datasets.export(name, format, layout=layout, units=units)
        return Response(data, media_type=encoding.MEDIA_TYPES[format], headers={
            "ETag": etag, "Content-Disposition": encoding.attachment(f"{name}.{format}")})

    @delete("/{name:str}", operation_id="deleteDataset", sync_to_thread=True,
            security=WRITE_SECURITY, responses=problems(401, 404))
    def delete_dataset(self, datasets: DatasetService, name: str = NameParam) -> None:
        """Delete a dataset and its values (204). Models trained on it keep working."""
        datasets.delete(name)

