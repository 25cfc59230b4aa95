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
from synthts_core.api.security import WRITE_SECURITY, check_volume
from synthts_core.api.state import ApiState
from synthts_core.api.uploads import (
    UPLOAD_DRY_RUN,
    UPLOAD_OPERATION,
    UploadOptions,
    import_upload,
)
from synthts_core.domain import DatasetQuery, DatasetSpec
from synthts_core.errors import BadInputError, ConflictError, NotFoundError
from synthts_core.runtime import Runtime
from synthts_core.services.units import in_units

NameParam = Parameter(max_length=128, description="Dataset name",
                      examples=[Example(summary="a dataset", value="harmonics")])
EXPORT_MEDIA = {"csv": encoding.CSV, "parquet": encoding.PARQUET, "npy": encoding.NPY,
                "npz": "application/x-npz", "ts": "text/x-ts"}


class DatasetsController(Controller):
    path = "/datasets"
    tags = ["datasets"]

    @post("/", operation_id="createDataset", sync_to_thread=True, security=WRITE_SECURITY,
          responses=problems(401, 409, 413, 415), operation_class=linked("createDataset"))
    def create_dataset(self, runtime: Runtime, data: DatasetCreate) -> Response[DatasetRead]:
        """Generate a dataset server-side from a spec or a preset and store it (201 with its
        metadata). The volume (series x channels x length) is checked against
        SYNTHTS_MAX_GENERATE_VALUES before any work; a taken name is a 409."""
        from synthts_core.services import datasets, generation

        spec = _resolve_spec(runtime, data)
        _ensure_free(runtime, spec.name)
        dataset = generation.build_dataset(runtime.registries, spec,
                                           max_values=runtime.settings.max_generate_values)
        meta = datasets.store(runtime, dataset)
        return Response(DatasetRead.from_domain(meta), status_code=201,
                        headers={"Location": encoding.location("/api/v1/datasets", meta.name)})

    @post("/upload", operation_id="uploadDataset", security=WRITE_SECURITY,
          operation_class=UPLOAD_OPERATION, responses={**problems(401, 408, 409, 413, 415, 429),
                                                       200: UPLOAD_DRY_RUN})
    async def upload_dataset(
        self, request: Request[Any, Any, Any], runtime: Runtime, api: ApiState,
        name: str = Parameter(max_length=128, description="Name of the new dataset"),
        format: Literal["csv", "json", "npy", "npz", "parquet", "ts"] | None = Parameter(
            default=None, description="Body format; default from Content-Type"),
        layout: Literal["auto", "long", "wide"] = Parameter(
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
        normalise: Literal["none", "zscore", "minmax"] = Parameter(
            default="zscore", description="Normalisation recorded so values map back to units"),
        tags: list[str] | None = Parameter(default=None, description="Tags of the dataset"),
        dry_run: bool = Parameter(default=False, description="Answer 200 with what would be "
                                  "stored (series, channels, labels, dropped rows) and store "
                                  "nothing"),
    ) -> Response[Any]:
        """Store real series uploaded as the raw body, through the same import as ``synthts
        import`` (same defaults: zscore, labels in natural order): a CSV/Parquet/JSON table in
        the long or wide layout, JSON ``{"values": [[[...]]], "labels": [...],
        "label_names": [...]}``, ``.npy``/``.npz`` ((series, length) or (series, channels,
        length), with ``labels``) or a sktime/aeon ``.ts`` file. ``dry_run`` answers 200 with
        what would be stored. Limits: SYNTHTS_MAX_REQUEST_BYTES for the body,
        SYNTHTS_MAX_GENERATE_VALUES for the values."""
        from synthts_core.services import datasets

        options = UploadOptions(name=name, format=format, label_column=label_column,
                                columns=columns, window=window, stride=stride,
                                normalise=normalise, tags=tags or [],
                                content_type=request.headers.get("content-type", ""),
                                layout=layout, series_column=series_column,
                                time_column=time_column, channel_column=channel_column)
        with api.uploads:  # a 429 while SYNTHTS_MAX_CONCURRENT_UPLOADS are in progress
            body = await request.body()  # a 408 when the body stalls
            await sync_to_thread(_ensure_free, runtime, name)
            result = await sync_to_thread(import_upload, body, options,
                                          runtime.settings.max_generate_values)
            if dry_run:
                return Response(result.report, status_code=200)
            meta = await sync_to_thread(datasets.store, runtime, result.dataset)
        return Response(DatasetRead.from_domain(meta), status_code=201,
                        headers={"Location": encoding.location("/api/v1/datasets", meta.name)})

    @get("/", operation_id="listDatasets", sync_to_thread=True, responses=problems(),
         operation_class=linked("listDatasets"))
    def list_datasets(
        self, runtime: Runtime,
        offset: int = Parameter(default=0, ge=0, le=10**9, description="Items to skip"),
        limit: int = Parameter(default=50, ge=1, le=500, description="Items per page"),
        sort: Literal["name", "-name", "created_at", "-created_at", "n_series",
                      "-n_series"] = Parameter(default="-created_at",
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
        from synthts_core.services import datasets

        query = DatasetQuery(offset=offset, limit=limit, sort=sort, name_contains=name_contains,
                             tags=tag or [], generator=generator, label=label, source=source)
        page = datasets.list_datasets(runtime, query)
        return DatasetPage(items=[DatasetRead.from_domain(m) for m in page.items],
                           page=PageInfo.of(page.total, offset, limit))

    @get("/{name:str}", operation_id="getDataset", sync_to_thread=True, responses=problems(404))
    def get_dataset(self, request: Request[Any, Any, Any], runtime: Runtime,
                    name: str = NameParam) -> Response[DatasetRead]:
        """Metadata: shape, labels and counts, time axis, the spec that made it, checksum."""
        from synthts_core.services import datasets

        meta = datasets.get_meta(runtime, name)
        read = DatasetRead.from_domain(meta)
        etag = encoding.etag_for(msgspec.json.encode(read))
        if encoding.not_modified(request, etag):
            return Response(None, status_code=304, headers={"ETag": etag})  # type: ignore[arg-type]
        return Response(read, headers={"ETag": etag, "Cache-Control": "no-cache"})

    @get("/{name:str}/values", operation_id="getDatasetValues", sync_to_thread=True,
         responses=problems(404, 413), operation_class=encoding.alternative_media(
             (encoding.NPY, "binary")))
    def get_values(
        self, request: Request[Any, Any, Any], runtime: Runtime, api: ApiState,
        name: str = NameParam,
        offset: int = Parameter(default=0, ge=0, le=10**9,
                                description="First series (after the label filter)"),
        limit: int = Parameter(default=100, ge=1, le=100_000, description="Series to return"),
        label: list[str] | None = Parameter(default=None, description="Only these labels"),
        per_label: int | None = Parameter(default=None, ge=1, le=100_000,
                                          description="At most this many series per label"),
        channel: list[int] | None = Parameter(default=None, description="Only these channels"),
        format: Literal["json", "npy"] | None = Parameter(
            default=None, description="json or npy; default from the Accept header"),
        units: Literal["real", "normalised"] = Parameter(
            default="real", description="real: the units imported (through the recorded "
            "normalisation); normalised: as stored"),
    ) -> Response[ValuesRead]:
        """A slice of the values: series ``offset`` to ``offset + limit`` (optionally only some
        labels, some channels, or the first ``per_label`` of each label), as JSON or as a
        float32 ``.npy`` (label indices then travel in the X-Synthts-Label-Runs header)."""
        from synthts_core.services import datasets

        meta = datasets.get_meta(runtime, name)
        label_idx = _label_indices(meta.label_names, label)
        channels = _channel_indices(meta.n_channels, channel)
        series = _select_series(api, name, meta, label_idx, offset, limit, per_label)
        binary = encoding.wants_binary(request, format)
        etag = encoding.etag_for(meta.checksum, series[:1], len(series), channels, binary,
                                 offset, limit, label, per_label, units)
        if encoding.not_modified(request, etag):
            return Response(None, status_code=304, headers={"ETag": etag})  # type: ignore[arg-type]
        if not binary:
            check_volume(len(series), len(channels), meta.length,
                         runtime.settings.max_generate_values, what="JSON values requested")
        ds = datasets.read(runtime, name, series=series, channels=channels)
        ds.values = in_units(ds.values, meta.normalisation, units, channels, meta.n_channels)
        headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Synthts-Units": units}
        if binary:
            return encoding.npy_response(ds.values, ds.labels, meta.label_names, headers)
        times = np.asarray(ds.time_grid(), dtype=np.float64)
        body = ValuesRead(
            name=name, offset=offset, shape=list(ds.values.shape), channels=channels,
            label_names=list(meta.label_names),
            labels=ds.labels.tolist() if ds.labels is not None else None,
            times=times.tolist() if times.ndim == 1 else None,
            series_times=times.tolist() if times.ndim == 2 else None,
            values=ds.values.astype(np.float64).tolist())
        return Response(body, headers=headers)

    @get("/{name:str}/figure", operation_id="getDatasetFigure", sync_to_thread=True,
         responses=problems(404), operation_class=encoding.alternative_media(
             (encoding.HTML, "html")))
    def get_figure(
        self, request: Request[Any, Any, Any], runtime: Runtime, api: ApiState,
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
        from synthts_core.services import datasets

        meta = datasets.get_meta(runtime, name)
        label_idx = _label_indices(meta.label_names, label)
        channels = _channel_indices(meta.n_channels, [channel])
        series = _select_series(api, name, meta, label_idx, 0, 10**9, per_label)
        ds = datasets.read(runtime, name, series=series, channels=channels)
        ds.values = in_units(ds.values, meta.normalisation, "real", channels, meta.n_channels)
        fig = figures.dataset_figure(ds.values, ds.labels, meta.label_names,
                                     times=ds.time_grid(), per_label=per_label)
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
        self, request: Request[Any, Any, Any], runtime: Runtime, name: str = NameParam,
        format: Literal["csv", "parquet", "npy", "npz", "ts"] = Parameter(
            default="csv", description="File format"),
        layout: Literal["long", "wide"] = Parameter(
            default="long", description="Tables: one row per value, or one per series and "
            "channel"),
        units: Literal["real", "normalised"] = Parameter(
            default="real", description="real: the units imported; normalised: as stored"),
    ) -> Response[bytes]:
        """The whole dataset as a file download (CSV, Parquet, ``.npy``, ``.npz`` with labels,
        or sktime ``.ts``), in real units unless ``units=normalised``; any of them uploads
        back unchanged."""
        from synthts_core.services import datasets

        meta = datasets.get_meta(runtime, name)
        etag = encoding.etag_for(meta.checksum, "export", format, layout, units)
        if encoding.not_modified(request, etag):
            return Response(b"", status_code=304, headers={"ETag": etag})
        data = datasets.export(runtime, name, format, layout=layout, units=units)
        return Response(data, media_type=EXPORT_MEDIA[format], headers={
            "ETag": etag, "Content-Disposition": encoding.attachment(f"{name}.{format}")})

    @delete("/{name:str}", operation_id="deleteDataset", sync_to_thread=True,
            security=WRITE_SECURITY, responses=problems(401, 404))
    def delete_dataset(self, runtime: Runtime, name: str = NameParam) -> None:
        """Delete a dataset and its values (204). Models trained on it keep working."""
        from synthts_core.services import datasets

        datasets.delete(runtime, name)


# ------------------------------------------------------------------------------ helpers


def _resolve_spec(runtime: Runtime, data: DatasetCreate) -> DatasetSpec:
    """The full spec, validated (422 naming the field) and size-checked (413) before work."""
    from synthts_core.domain import from_builtins
    from synthts_core.services import generation

    if (data.spec is None) == (data.preset is None):
        raise BadInputError("spec", "give exactly one of 'spec' and 'preset'",
                            allowed="a spec object, or a preset name with optional overrides")
    if data.preset is not None:
        overrides = msgspec.to_builtins(data.overrides) if data.overrides else {}
        try:
            spec = generation.resolve_preset(runtime.registries, data.preset, **overrides)
        except TypeError as exc:  # a third-party preset without one of the options
            raise BadInputError("overrides", str(exc), allowed="count, length, seed, "
                                "engine") from None
        spec = msgspec.structs.replace(spec, name=data.name, tags=list(data.tags),
                                       description=data.description or spec.description)
    else:
        if data.overrides is not None:
            raise BadInputError("overrides", "apply to presets only", allowed="leave it out "
                                "with a spec")
        raw = msgspec.to_builtins(data.spec)
        raw.update(name=data.name, tags=list(data.tags), description=data.description)
        spec = from_builtins(raw, DatasetSpec)
    return generation.validate_spec(runtime.registries, spec,
                                    max_values=runtime.settings.max_generate_values)


def _ensure_free(runtime: Runtime, name: str) -> None:
    from synthts_core.domain import check_name
    from synthts_core.services import datasets

    check_name(name)
    try:
        datasets.get_meta(runtime, name)
    except NotFoundError:
        return
    raise ConflictError(f"a dataset named {name!r} exists already; pick another name or "
                        "delete it first", field="name")


def _label_indices(label_names: list[str], labels: list[str] | None) -> list[int] | None:
    if not labels:
        return None
    out = []
    for lab in labels:
        if lab not in label_names:
            raise BadInputError("label", f"{lab!r} is not a label of this dataset",
                                allowed=", ".join(label_names) or "none (unlabelled)")
        out.append(label_names.index(lab))
    return out


def _channel_indices(n_channels: int, channels: list[int] | None) -> list[int]:
    if not channels:
        return list(range(n_channels))
    for c in channels:
        if not 0 <= c < n_channels:
            raise BadInputError("channel", f"got {c}", allowed=f"0..{n_channels - 1}")
    return list(dict.fromkeys(channels))


def _select_series(api: ApiState, name: str, meta: Any, label_idx: list[int] | None,
                   offset: int, limit: int, per_label: int | None) -> list[int]:
    """Indices of the series to return: label filter, then per-label cap, then the page."""
    if label_idx is None and per_label is None:
        stop = min(offset + limit, meta.n_series)
        return list(range(min(offset, stop), stop))
    labels = api.labels_of(name, meta)
    if labels is None:
        if label_idx is not None:
            raise BadInputError("label", "this dataset has no labels", allowed="no label filter")
        index = np.arange(meta.n_series)[:per_label]
    else:
        wanted = label_idx if label_idx is not None else range(len(meta.label_names))
        if per_label is None:
            index = np.flatnonzero(np.isin(labels, list(wanted)))
        else:
            chosen = [np.flatnonzero(labels == lab)[:per_label] for lab in wanted]
            index = np.sort(np.concatenate(chosen)) if chosen else np.arange(0)
    return index[offset:offset + limit].tolist()
