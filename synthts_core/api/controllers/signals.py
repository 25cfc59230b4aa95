"""Signal catalogue (with parameter schemas a client can turn into forms), dataset presets,
and previews computed on the fly and never stored."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import Parameter

from synthts_core.api.links import linked
from synthts_core.api.problems import problems
from synthts_core.api.schemas import (
    PresetList,
    PresetRead,
    PreviewCreate,
    PreviewRead,
    SignalList,
    SignalRead,
    catalogue_read,
)
from synthts_core.api.security import WRITE_SECURITY
from synthts_core.services.catalogue import CatalogueService

CACHE_HEADERS = {"Cache-Control": "public, max-age=300"}


class SignalsController(Controller):
    path = "/signals"
    tags = ["signals"]

    @get("/", operation_id="listSignals", sync_to_thread=False, responses=problems(),
         operation_class=linked("listSignals"))
    def list_signals(self, catalogue: CatalogueService,
                     kind: Literal["signal", "noise"] | None = Parameter(
                         default=None, description="Only signals or only noises")
                     ) -> Response[SignalList]:
        """The catalogue: every installed signal and noise generator with its parameter schema
        (name, kind, default, bounds, help) so a client can build a form. Cacheable: it
        changes only when plugins do."""
        items = [catalogue_read(info, SignalRead) for info in catalogue.signals(kind)]
        return Response(SignalList(items=items), headers=CACHE_HEADERS)

    @get("/{name:str}", operation_id="getSignal", sync_to_thread=False,
         responses=problems(404))
    def get_signal(self, catalogue: CatalogueService,
                   name: str = Parameter(max_length=128, description="Generator name")
                   ) -> Response[SignalRead]:
        """One generator's parameter schema, e.g. to build a form for it."""
        return Response(catalogue_read(catalogue.signal(name), SignalRead), headers=CACHE_HEADERS)

    @post("/preview", operation_id="previewSignal", sync_to_thread=True, status_code=200,
          security=WRITE_SECURITY, responses=problems(401, 413, 415))
    def preview(self, catalogue: CatalogueService, data: PreviewCreate) -> PreviewRead:
        """A few series for the given parameters, returned and not stored: lets a form show a
        live plot while the user edits parameters. Bad parameters give 422 naming the field."""
        from synthts_core.domain import ComponentSpec, SamplingSpec

        signal = msgspec.convert(msgspec.to_builtins(data.signal), ComponentSpec)
        noise = (msgspec.convert(msgspec.to_builtins(data.noise), ComponentSpec)
                 if data.noise is not None else None)
        sampling = msgspec.convert(msgspec.to_builtins(data.sampling), SamplingSpec)
        times, values = catalogue.preview(signal, noise, n=data.n, length=data.length,
                                          sampling=sampling, seed=data.seed)
        grid = _tolist(times)
        irregular = bool(grid) and isinstance(grid[0], list)
        return PreviewRead(times=None if irregular else grid,
                           series_times=grid if irregular else None, values=_tolist(values))


class PresetsController(Controller):
    path = "/presets"
    tags = ["signals"]

    @get("/", operation_id="listPresets", sync_to_thread=True, responses=problems(),
         operation_class=linked("listPresets"))
    def list_presets(self, catalogue: CatalogueService) -> Response[PresetList]:
        """Named dataset specs (e.g. the seed's ten harmonic classes) with their full spec."""
        reads = [catalogue_read(info, PresetRead) for info in catalogue.presets()]
        return Response(PresetList(items=reads), headers=CACHE_HEADERS)

    @get("/{name:str}", operation_id="getPreset", sync_to_thread=True, responses=problems(404))
    def get_preset(self, catalogue: CatalogueService,
                   name: str = Parameter(max_length=128, description="Preset name")
                   ) -> Response[PresetRead]:
        """One preset and the spec it expands to with default options."""
        return Response(catalogue_read(catalogue.preset(name), PresetRead), headers=CACHE_HEADERS)


def _tolist(array: Any) -> Any:
    import numpy as np

    return np.asarray(array, dtype=np.float64).tolist()
