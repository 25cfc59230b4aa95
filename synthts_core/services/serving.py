"""Generation served to many clients at once: the model cache, request batching and the
inference thread, owned here so the API's controller only translates HTTP.

One ``ServingService`` per app (``ApiState.generation``): its batcher's queues belong to
the event loop that serves the app, and its inference thread is shut down with it. The hot
path is kept short: a loaded model comes from the bounded ``ModelCache`` without a thread hop
when it is already there (loading happens in a worker thread), and every forward pass runs on
the one inference thread, batched with other requests for the same version
(``services.batching``) unless SYNTHTS_GENERATE_BATCHING is off.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from synthts_core.domain import check_name
from synthts_core.errors import BadInputError
from synthts_core.loaded_model import LoadedModel

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime
    from synthts_core.services.batching import GenerationBatcher
    from synthts_core.services.interpolation import Interpolation
    from synthts_core.services.model_cache import ModelCache

T = TypeVar("T")


def _set_torch_threads(threads: int | None) -> None:
    """Forward passes use every core unless SYNTHTS_INFERENCE_THREADS says otherwise. A pass
    is over 85 % matrix products, which torch spreads over its threads, and while one runs the
    event loop mostly waits for it: with one thread the inference thread was the bottleneck
    (busy 89 % of the time) and the second core sat nearly idle. Measured on 2 cores, 8
    clients, .npy, interleaved runs: one thread 137-174 req/s, p99 62-76 ms; two threads
    197-230 req/s, p99 43-55 ms, at the same server CPU per request."""
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)


async def _in_thread(fn: Callable[[], T]) -> T:
    """``fn`` in the loop's default worker threads (loading, cutting, figures): never on the
    inference thread, whose one slot belongs to forward passes."""
    return await asyncio.get_running_loop().run_in_executor(None, fn)


@dataclass
class Generated:
    """A request's series: ``values`` in the units asked for, a label index per series (None:
    unconditional) and each series' length (None: all as long)."""

    model: LoadedModel
    values: np.ndarray
    labels: np.ndarray | None
    lengths: np.ndarray | None


class ServingService:
    """The cache of loaded versions, the batcher and the inference thread of one app."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._lock = threading.Lock()
        self._inference: ThreadPoolExecutor | None = None
        self._models: ModelCache | None = None
        self._batcher: GenerationBatcher | None = None

    # ------------------------------------------------------------------------ what it owns

    @property
    def batcher(self) -> GenerationBatcher | None:
        """The ``GenerationBatcher`` feeding the inference thread (None when
        SYNTHTS_GENERATE_BATCHING is off: one forward pass per request)."""
        if not self.rt.settings.generate_batching:
            return None
        if self._batcher is None:
            from synthts_core.services.batching import GenerationBatcher

            self._batcher = GenerationBatcher(self.inference,
                                              self.rt.settings.max_generate_values)
        return self._batcher

    @property
    def inference(self) -> ThreadPoolExecutor:
        """The one thread every forward pass runs on: torch already spreads an op over the
        cores, so more threads would only contend, and a fixed thread means no per-request
        pool churn. Recreated if the app is started again after a shutdown."""
        with self._lock:
            if self._inference is None:
                self._inference = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="synthts-infer",
                    initializer=_set_torch_threads,
                    initargs=(self.rt.settings.inference_threads,))
            return self._inference

    @property
    def models(self) -> ModelCache:
        """The ``ModelCache`` (created on first use so apps that never generate load no torch)."""
        with self._lock:
            if self._models is None:
                from synthts_core.services.model_cache import ModelCache

                self._models = ModelCache(self.rt, self.rt.settings.model_cache_size)
            return self._models

    def close(self) -> None:
        """Stop the inference thread (queued passes are cancelled) and drop loaded models."""
        with self._lock:
            executor, self._inference = self._inference, None
            self._batcher = None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if self._models is not None:
            self._models.clear()

    # ------------------------------------------------------------------------ generation

    async def model(self, name: str, version: str) -> LoadedModel:
        """The cached model; a miss (or an alias, which must be resolved) loads in a thread."""
        check_name(name, "name")
        cache = self.models
        if version.isdigit() and (name, version) in cache.keys():  # noqa: SIM118 - a method
            return cache.get(name, version)  # in memory: no I/O, no thread hop
        return await _in_thread(partial(cache.get, name, version))

    async def generate(self, name: str, version: str, *, n: int | None = None,
                       labels: Sequence[str | int] | None = None,
                       counts: Mapping[str, int] | None = None, seed: int | None = None,
                       length: int | None = None, missing: str = "none",
                       units: str = "real") -> Generated:
        """Checked and planned first; run batched with other requests for the same version
        (or alone when SYNTHTS_GENERATE_BATCHING is off); then cut to lengths and given the
        learnt gaps where asked (``LoadedModel.finish``), in ``units`` (real: as the training
        data was imported)."""
        from synthts_core.services.batching import can_batch

        model = await self.model(name, version)
        max_values = self.rt.settings.max_generate_values
        batcher = self.batcher
        model.gaps_pattern(missing, length)  # refused before any work
        if batcher is not None and can_batch(model):
            label_idx, total = model.plan_request(n, labels, counts, max_values, length)
            values, label_idx = await batcher.generate(model, label_idx, total, seed,
                                                       model.generation_length(length))
        else:
            run = partial(model.generate, n, labels=labels, counts=counts, seed=seed,
                          max_values=max_values, length=length)
            values, label_idx = await asyncio.get_running_loop().run_in_executor(
                self.inference, run)
        lengths = None
        if length is not None or missing != "none" or model.config.get("lengths"):
            # after the forward pass, so batching leaves a request's cuts and gaps alone
            values, lengths = await _in_thread(partial(model.finish, values, label_idx, seed,
                                                       missing, length))
        return Generated(model, model.in_units(values, units), label_idx, lengths)

    async def samples_figure(self, name: str, version: str, *, n: int | None = None,
                             labels: Sequence[str | int] | None = None,
                             counts: Mapping[str, int] | None = None, seed: int | None = None,
                             length: int | None = None, missing: str = "none",
                             dataset: str | None = None, per_label: int = 3,
                             units: str = "real") -> tuple[LoadedModel, Any]:
        """Generate as ``generate`` does, then a plotly figure of the series per label in
        ``units``, beside the first ``per_label`` real series of ``dataset`` per label when
        given."""
        got = await self.generate(name, version, n=n, labels=labels, counts=counts, seed=seed,
                                  length=length, missing=missing, units=units)
        figure = await _in_thread(partial(self._figure, got, dataset, per_label, units))
        return got.model, figure

    def _figure(self, got: Generated, dataset: str | None, per_label: int, units: str) -> Any:
        from synthts_core import figures

        model, values = got.model, got.values
        if dataset is None:
            return figures.dataset_figure(values, got.labels, model.label_names,
                                          per_label=per_label)
        real, real_labels = self.real_series(dataset, model.label_names, per_label, units)
        return figures.real_vs_synthetic_figure(real, real_labels, values, got.labels,
                                                model.label_names, per_label=per_label)

    def real_series(self, dataset: str, label_names: Sequence[str], per_label: int,
                    units: str = "real") -> tuple[np.ndarray, np.ndarray | None]:
        """The first ``per_label`` series of ``dataset`` per label the model knows, in
        ``units``, their labels re-indexed to the model's ``label_names`` (to plot beside
        generated series)."""
        from synthts_core.normalisation import in_units
        from synthts_core.subsets import first_per_label, label_map

        datasets = self.rt.services.datasets
        meta = datasets.get(dataset)
        all_labels = datasets.labels_of(dataset, meta)
        if all_labels is None or not label_names:
            values = datasets.read(dataset, series=slice(0, per_label)).values
            return in_units(values, meta.normalisation, units), None  # type: ignore[arg-type]
        to_model = label_map(meta.label_names, label_names)
        index = first_per_label(all_labels, np.flatnonzero(to_model >= 0), per_label)
        if not len(index):
            raise BadInputError("dataset", f"{dataset!r} shares no label with the model",
                                allowed=", ".join(label_names))
        real = datasets.read(dataset, series=index.tolist())
        return (in_units(real.values, meta.normalisation, units),  # type: ignore[arg-type]
                to_model[np.asarray(real.labels)].astype(np.int64))

    async def interpolate(self, name: str, version: str, *, steps: int, seed: int,
                          start_label: str | None = None, end_label: str | None = None,
                          start: Any = None, end: Any = None
                          ) -> tuple[LoadedModel, Interpolation]:
        """A latent walk of the version (``ModelService.walk``), checked before the model is
        loaded and run on the inference thread."""
        models = self.rt.services.models
        models.check_walk(start_label, end_label)
        model = await self.model(name, version)
        run = models.walk(model, steps=steps, seed=seed, start_label=start_label,
                          end_label=end_label, start=start, end=end)
        walk = await asyncio.get_running_loop().run_in_executor(self.inference, run)
        return model, walk
