"""System service: whether this installation can serve (storage, tracker and Ray answer) and
what it is connected to.

Locations come with passwords masked. Whether a caller may see them at all (the API shows them
only to callers sending its token) is the front end's decision: each location is also given as
a URI whose scheme alone can be shown instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from synthts_core import __version__
from synthts_core.services.cluster import first_line
from synthts_core.settings import mask_uri

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

Part = Literal["storage", "tracker", "ray"]
READY_CHECKS: tuple[Part, ...] = ("storage", "tracker", "ray")
LOCAL_RAY = "local (started in-process)"


@dataclass(frozen=True)
class Check:
    """One readiness check. ``target``: where it looked (passwords masked; None when it never
    got that far); ``uri``: the target as a URI to hide (None: the target reveals nothing)."""

    ok: bool
    target: str | None = None
    detail: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class ServerInfo:
    """What the server runs against and how much it holds (a count is None when its backend
    did not answer). ``tracker_uri`` and ``ray_uri`` are the locations to hide, None where
    ``tracker_at`` is a name (a tracker without a location) or Ray is the local default."""

    version: str
    storage_at: str
    tracker_at: str
    tracker_uri: str | None
    ray_at: str
    ray_uri: str | None
    auth_required_for_writes: bool
    max_request_bytes: int
    max_generate_values: int
    datasets: int | None
    jobs: int | None
    models: int | None


class SystemService:
    """Readiness and server information of one runtime: ``runtime.services.system``."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def check(self, part: Part) -> Check:
        """Storage and tracker answer a ping; a configured Ray cluster accepts connections
        and this server's token (the local default needs nothing until a job starts one).
        Never raises: a failure is a check that is not ok, with the error's first line."""
        if part == "ray":
            return self._check_ray()
        start = time.perf_counter()
        try:
            backend = self.rt.storage if part == "storage" else self.rt.tracker
            backend.ping()
        except Exception as exc:
            return Check(ok=False, detail=first_line(exc, with_type=False))
        elapsed = f"{(time.perf_counter() - start) * 1000:.1f} ms"
        uri = str(getattr(backend, "uri", ""))
        return Check(ok=True, target=mask_uri(uri), detail=elapsed, uri=uri)

    def _check_ray(self) -> Check:
        from synthts_core.services.cluster import ready_check

        address = self.rt.settings.ray_address
        start = time.perf_counter()
        try:
            ok, target, detail = ready_check(self.rt.settings)
        except Exception as exc:  # never an error from a probe
            ok, target, detail = False, address or "local", first_line(exc, with_type=False)
        if ok and address:
            detail = f"{detail}, {(time.perf_counter() - start) * 1000:.1f} ms"
        return Check(ok=ok, target=target, detail=detail,
                     uri=f"ray:{target}" if address else None)

    def info(self) -> ServerInfo:
        s, services = self.rt.settings, self.rt.services
        try:
            uri = str(getattr(self.rt.tracker, "uri", "") or "")
        except Exception:  # a tracker that cannot be built is still named
            uri = ""
        return ServerInfo(
            version=__version__, storage_at=mask_uri(s.storage_uri),
            tracker_at=mask_uri(uri) if uri else s.tracker, tracker_uri=uri or None,
            ray_at=s.ray_address or LOCAL_RAY,
            ray_uri=f"ray:{s.ray_address}" if s.ray_address else None,
            auth_required_for_writes=bool(s.api_token and s.api_token.get_secret_value()),
            max_request_bytes=s.max_request_bytes, max_generate_values=s.max_generate_values,
            datasets=_count(lambda: services.datasets.count()),
            jobs=_count(lambda: services.jobs.list(limit=1).total),
            models=_count(lambda: len(services.models.list())))


def _count(fn: Callable[[], int]) -> int | None:
    try:
        return int(fn())
    except Exception:
        return None
