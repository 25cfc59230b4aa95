"""Generation from a registered model version: series per label (any count per label), latent
interpolation, and plotly figures of both.

The app's ``ServingService`` (``services.serving``) does the work: its model cache, its
batching and its inference thread. This controller translates: the answer is float32 ``.npy``
or JSON whose numbers have 9 significant digits, which parse back to exactly the float32
values.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import msgspec
import numpy as np
from litestar import Controller, Request, Response, post
from litestar.concurrency import sync_to_thread
from litestar.params import Parameter

from synthts_core.api import encoding
from synthts_core.api.problems import problems
from synthts_core.api.schemas import (
    GenerateCreate,
    GenerateRead,
    InterpolateCreate,
    InterpolationRead,
)
from synthts_core.api.security import WRITE_SECURITY
from synthts_core.services.serving import ServingService

ModelName = Parameter(max_length=128, description="Registered model name")
VersionParam = Parameter(max_length=128, description="Version number or alias")
UnitsParam = Parameter(default="real", description="real: the units the training data was "
                       "imported in; normalised: through its recorded normalisation")
INLINE_VALUES = 200_000
"""JSON answers up to this many values are encoded on the event loop (a few ms); larger ones
in a worker thread."""


def with_values(document: Any, values: np.ndarray, lengths: np.ndarray | None = None) -> bytes:
    """``document`` (a struct whose last field, ``values``, is left empty) as JSON, with
    ``values`` written by ``encoding.json_array``: exact float32, no Python float per value.
    With ``lengths``, each series as long as it is (padding never written), through Python
    floats (float32 widened: exact too)."""
    if lengths is not None:
        rows = [v[:, :k].astype(np.float64).tolist() for v, k in
                zip(values, lengths.tolist(), strict=True)]
        return msgspec.json.encode(msgspec.structs.replace(document, values=rows))
    head = msgspec.json.encode(document)
    cut = head.rindex(b'"values":[]') + len(b'"values":')  # the last field
    return encoding.json_array(values, head[:cut], head[cut + 2:])


def generate_json(model: Any, values: np.ndarray, labels: np.ndarray | None,
                  lengths: np.ndarray | None = None) -> bytes:
    """The ``GenerateRead`` document (each series as long as it is when ``lengths``)."""
    ref = model.ref
    return with_values(GenerateRead(
        model=ref.name, version=str(ref.version), shape=list(values.shape),
        label_names=model.label_names, labels=labels.tolist() if labels is not None else None,
        lengths=None if lengths is None else lengths.tolist(), values=[]), values, lengths)


class GenerationController(Controller):
    path = "/models/{name:str}/versions/{version:str}"
    tags = ["generation"]

    @post("/generate", operation_id="generateSeries", status_code=200,
          security=WRITE_SECURITY, responses=problems(401, 404, 413, 415, 503),
          operation_class=encoding.alternative_media((encoding.NPY, "binary")))
    async def generate(
        self, request: Request[Any, Any, Any], generation: ServingService,
        data: GenerateCreate,
        name: str = ModelName, version: str = VersionParam,
        format: Literal["json", "npy"] | None = Parameter(
            default=None, description="json or npy; default from the Accept header"),
        units: Literal["real", "normalised"] = UnitsParam,
    ) -> Response[GenerateRead]:
        """Generate series: ``n`` per label for ``labels`` (all labels when omitted), or
        ``counts`` per label; ``seed`` makes it reproducible. At most
        SYNTHTS_MAX_GENERATE_VALUES values (series x channels x length) per request. The
        ``.npy`` answer carries label indices in the X-Synthts-Label-Runs header. A model that
        learnt series of unequal lengths draws each series' length from its class's (JSON:
        ``lengths`` and each series as long as it is; ``.npy``: NaN past each end), unless
        ``length`` asks for one."""
        got = await generation.generate(name, version, n=data.n, labels=data.labels,
                                        counts=data.counts, seed=data.seed, length=data.length,
                                        missing=data.missing, units=units)
        model, values, labels, lengths = got.model, got.values, got.labels, got.lengths
        ref = model.ref
        headers = {"X-Synthts-Model": f"{ref.name}@{ref.version}", "X-Synthts-Units": units}
        if encoding.wants_binary(request, format):
            return encoding.npy_response(values, labels, model.label_names, headers)
        body_bytes = (generate_json(model, values, labels, lengths)
                      if values.size <= INLINE_VALUES
                      else await sync_to_thread(generate_json, model, values, labels, lengths))
        return Response(body_bytes, media_type=encoding.JSON,  # type: ignore[arg-type]
                        headers=headers)

    @post("/generate/figure", operation_id="generateFigure", status_code=200,
          security=WRITE_SECURITY, responses=problems(401, 404, 413, 415, 503),
          operation_class=encoding.alternative_media((encoding.HTML, "html")))
    async def generate_figure(
        self, generation: ServingService, data: GenerateCreate, name: str = ModelName,
        version: str = VersionParam,
        dataset: str | None = Parameter(default=None, max_length=128,
                                        description="Real dataset to plot beside the samples"),
        per_label: int = Parameter(default=3, ge=1, le=20, description="Series per label"),
        format: Literal["json", "html"] = Parameter(
            default="json", description="Plotly figure JSON, or a standalone HTML page"),
        units: Literal["real", "normalised"] = UnitsParam,
    ) -> Response[dict[str, Any]]:
        """A plotly figure of generated series per label, beside real series of ``dataset``
        when given (JSON for clients that render plotly, or a standalone HTML page)."""
        model, fig = await generation.samples_figure(
            name, version, n=data.n, labels=data.labels, counts=data.counts, seed=data.seed,
            length=data.length, missing=data.missing, dataset=dataset, per_label=per_label,
            units=units)
        title = f"{model.ref.name}@{model.ref.version}"
        return await sync_to_thread(_figure_response, fig, format, title)

    @post("/interpolate", operation_id="interpolateLatent", status_code=200,
          security=WRITE_SECURITY, responses=problems(401, 404, 413, 415, 503))
    async def interpolate(self, generation: ServingService, data: InterpolateCreate,
                          name: str = ModelName, version: str = VersionParam
                          ) -> Response[InterpolationRead]:
        """Series along a path in latent space: between two labels (``start_label`` ->
        ``end_label``) at one latent point, or between two latent points (vectors or seeds)."""
        model, walk = await generation.interpolate(
            name, version, steps=data.steps, seed=data.seed, start_label=data.start_label,
            end_label=data.end_label, start=data.start, end=data.end)
        weights = walk.label_weights
        document = InterpolationRead(
            model=model.ref.name, version=str(model.ref.version), steps=data.steps,
            description=walk.description, fractions=np.asarray(walk.fractions).tolist(),
            label_weights=None if weights is None else np.asarray(weights).tolist(),
            values=[])
        body = await sync_to_thread(with_values, document, np.asarray(walk.values))
        return Response(body, media_type=encoding.JSON)  # type: ignore[arg-type]

    @post("/interpolate/figure", operation_id="interpolationFigure", status_code=200,
          security=WRITE_SECURITY, responses=problems(401, 404, 413, 415, 503),
          operation_class=encoding.alternative_media((encoding.HTML, "html")))
    async def interpolation_figure(
        self, generation: ServingService, data: InterpolateCreate, name: str = ModelName,
        version: str = VersionParam,
        format: Literal["json", "html"] = Parameter(
            default="json", description="Plotly figure JSON, or a standalone HTML page"),
    ) -> Response[dict[str, Any]]:
        """The interpolation as an animated plotly figure (one frame per step)."""
        from synthts_core import figures

        model, walk = await generation.interpolate(
            name, version, steps=data.steps, seed=data.seed, start_label=data.start_label,
            end_label=data.end_label, start=data.start, end=data.end)
        title = f"{model.ref.name}@{model.ref.version}: {walk.description}"
        captions = [f"{float(f):.2f}" for f in np.asarray(walk.fractions)]
        fig = await sync_to_thread(partial(figures.interpolation_animation, walk.values,
                                           captions=captions, title=title))
        return await sync_to_thread(_figure_response, fig, format, title)


def _figure_response(fig: Any, format: str, title: str) -> Response[Any]:
    from synthts_core import figures

    if format == "html":
        return Response(figures.to_html(fig, title), media_type=encoding.HTML)
    return Response(msgspec.json.decode(fig.to_json()))
