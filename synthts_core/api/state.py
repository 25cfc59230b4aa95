"""What handlers share: the runtime, the model serving service and the upload slots."""

from __future__ import annotations

from synthts_core.runtime import Runtime
from synthts_core.services.serving import ServingService

UPLOAD_RETRY_AFTER_S = 5


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
    """What the handlers of one app share: its runtime, its ``ServingService`` (model
    cache, batcher, inference thread) and its upload slots."""

    def __init__(self, runtime: Runtime, owns_runtime: bool) -> None:
        self.runtime = runtime
        self.owns_runtime = owns_runtime
        self.generation = ServingService(runtime)
        self.uploads = UploadSlots(runtime.settings.max_concurrent_uploads)

    def close(self) -> None:
        self.generation.close()
        if self.owns_runtime:
            self.runtime.close()
