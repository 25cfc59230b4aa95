"""The runtime: settings + plugin manager + opened storage and tracker.

Services, the API, the CLI and the training workers each hold one. Storage and tracker open
lazily so a command that needs neither (``synthts plugins``) never touches a server.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from synthts_core.errors import PluginError
from synthts_core.interfaces import StorageBackend, Tracker, missing_methods
from synthts_core.plugins import PluginManager, make_plugin_manager
from synthts_core.registry import Registries
from synthts_core.settings import Settings

if TYPE_CHECKING:
    from synthts_core.services import Services


class Runtime:
    def __init__(self, settings: Settings | None = None,
                 plugin_manager: PluginManager | None = None) -> None:
        self.settings = settings or Settings()
        self._pm = plugin_manager
        self._storage: StorageBackend | None = None
        self._tracker: Tracker | None = None
        self._lock = threading.RLock()
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        """The application's services (datasets, jobs, models, ...), built on first use."""
        if self._services is not None:
            return self._services
        with self._lock:
            if self._services is None:
                from synthts_core.services import Services

                self._services = Services(self)
            return self._services

    @property
    def pm(self) -> PluginManager:
        if self._pm is None:
            self._pm = make_plugin_manager(strict=self.settings.strict_plugins,
                                           disabled=self.settings.disable_plugins)
        return self._pm

    @property
    def registries(self) -> Registries:
        return self.pm.registries

    @property
    def storage(self) -> StorageBackend:
        with self._lock:
            if self._storage is None:
                uri = self.settings.storage_uri
                info = self.registries.storage.for_uri(uri)
                backend = info.factory(uri, self.settings)
                _require_protocol(backend, StorageBackend, "storage backend", info.name,
                                  self.registries.storage.plugin_of(info.name))
                backend.open()
                self._storage = backend
            return self._storage

    @property
    def tracker(self) -> Tracker:
        with self._lock:
            if self._tracker is None:
                info = self.registries.trackers.require(self.settings.tracker, "SYNTHTS_TRACKER")
                tracker = info.factory(self.settings)
                _require_protocol(tracker, Tracker, "tracker", info.name,
                                  self.registries.trackers.plugin_of(info.name))
                self._tracker = tracker
            return self._tracker

    def close(self) -> None:
        with self._lock:
            for part in (self._storage, self._tracker):
                if part is not None:
                    with contextlib.suppress(Exception):  # closing must not raise
                        part.close()
            self._storage = None
            self._tracker = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _require_protocol(part: object, protocol: type, kind: str, name: str, plugin: str) -> None:
    """A plugin's factory built ``part``: refuse it now, naming what it lacks, rather than
    fail later inside a training run or a request when the service calls the missing method."""
    missing = missing_methods(part, protocol)
    if missing:
        raise PluginError(f"{kind} {name!r} from plugin {plugin!r} lacks the methods {missing} "
                          f"of {protocol.__name__}", kind=kind, name=name, plugin=plugin,
                          missing=missing)
