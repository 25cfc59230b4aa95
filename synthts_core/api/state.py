"""What handlers share: the runtime, the bounded model cache, the inference thread and the
upload slots."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from synthts_core.runtime import Runtime

UPLOAD_RETRY_AFTER_S = 5


def _set_torch_threads(threads: int | None) -> None:
    """Forward passes use every core unless SYNTHTS_INFERENCE_THREADS says otherwise. A pass
    is over 85 % matrix products, which torch spreads over its threads, and while one runs the
    event loop mostly waits for it: with one thread the inference thread was the bottleneck
    (busy 89 % of the time) and the second core sat nearly idle. Measured on 2 cores, 8
    clients, .npy, interleaved runs: one thread 137-174 req/s, p99 62-76 ms; two threads
    197-230 req/s, p99 43-55 ms, at the same server CPU per request."""
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)


class UploadSlots:
    """At most ``limit`` uploads are read, parsed and stored at once: each holds its whole body
    in memory, so unbounded concurrency is unbounded memory. Used from the event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, int(limit))
        self.busy = 0

    def __enter__(self) -> UploadSlots:
        if self.busy >= self.limit:
            from litestar.exceptions import HTTPException

            raise HTTPException(
                status_code=429, headers={"Retry-After": str(UPLOAD_RETRY_AFTER_S)},
                detail=f"{self.limit} uploads are in progress, the most this server takes at "
                       f"once (SYNTHTS_MAX_CONCURRENT_UPLOADS); retry in a few seconds")
        self.busy += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.busy -= 1


class ApiState:
    def __init__(self, runtime: Runtime, owns_runtime: bool) -> None:
        self.runtime = runtime
        self.owns_runtime = owns_runtime
        self._inference: ThreadPoolExecutor | None = None
        self._models: Any = None
        self._models_lock = threading.Lock()
        self._batcher: Any = None
        self.uploads = UploadSlots(runtime.settings.max_concurrent_uploads)

    @property
    def batcher(self) -> Any:
        """The ``GenerationBatcher`` feeding the inference thread (None when
        SYNTHTS_GENERATE_BATCHING is off: one forward pass per request)."""
        if not self.runtime.settings.generate_batching:
            return None
        if self._batcher is None:
            from synthts_core.api.batching import GenerationBatcher

            self._batcher = GenerationBatcher(self.inference,
                                              self.runtime.settings.max_generate_values)
        return self._batcher

    @property
    def inference(self) -> ThreadPoolExecutor:
        """The one thread every forward pass runs on: torch already spreads an op over the
        cores, so more threads would only contend, and a fixed thread means no per-request
        pool churn. Recreated if the app is started again after a shutdown."""
        with self._models_lock:
            if self._inference is None:
                self._inference = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="synthts-infer",
                    initializer=_set_torch_threads,
                    initargs=(self.runtime.settings.inference_threads,))
            return self._inference

    @property
    def models(self) -> Any:
        """The ``ModelCache`` (created on first use so apps that never generate load no torch)."""
        with self._models_lock:
            if self._models is None:
                self._models = self.runtime.services.models.cache(
                    self.runtime.settings.model_cache_size)
            return self._models

    def close(self) -> None:
        with self._models_lock:
            executor, self._inference = self._inference, None
            self._batcher = None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if self._models is not None:
            self._models.clear()
        if self.owns_runtime:
            self.runtime.close()
