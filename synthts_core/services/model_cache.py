"""A bounded cache of loaded versions, so an API answers repeated generation requests
without reloading, and loads each version once even when many requests for it arrive together.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from synthts_core.loaded_model import LoadedModel
from synthts_core.services.model_loading import load_model
from synthts_core.services.models import DEFAULT_VERSION

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime


class ModelCache:
    """Bounded LRU of loaded versions, keyed by (name, version number), thread-safe.

    Aliases are resolved on every ``get`` (``best`` may have moved); numeric versions already
    loaded are served without asking the registry."""

    def __init__(self, rt: Runtime, size: int | None = None) -> None:
        self.rt = rt
        self.size = max(1, int(size if size is not None else rt.settings.model_cache_size))
        self._models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        self.loads = 0
        self.hits = 0

    def _cached(self, key: tuple[str, str]) -> LoadedModel | None:
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                self.hits += 1
            return model

    def get(self, name: str, version_or_alias: str = DEFAULT_VERSION) -> LoadedModel:
        version = str(version_or_alias)
        if version.isdigit() and (hit := self._cached((name, version))) is not None:
            return hit
        ref = self.rt.services.models.version(name, version)
        key = (ref.name, ref.version)
        if (hit := self._cached(key)) is not None:
            return hit
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:  # one loader per version; the others wait and then hit the cache
            if (hit := self._cached(key)) is not None:
                return hit
            model = load_model(self.rt, ref)
            with self._lock:
                self.loads += 1
                self._models[key] = model
                while len(self._models) > self.size:
                    self._models.popitem(last=False)
                self._loading.pop(key, None)
            return model

    def keys(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._models)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
