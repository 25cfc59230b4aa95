"""Catalogue service: what is installed. Signal and noise generators (with a live preview),
dataset presets, model architectures, quality metrics and the plugins that added them.

Each listing is the registry's entries (``name``, ``item``, ``plugin``) in name order; a single
lookup raises ``NotFoundError`` naming what is available.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthts_core.registry import Entry

if TYPE_CHECKING:
    from synthts_core.domain import ComponentSpec, SamplingSpec
    from synthts_core.plugins import PluginInfo
    from synthts_core.registry import Registry
    from synthts_core.runtime import Runtime


def _entry(registry: Registry[Any], name: str) -> Entry[Any]:
    """One entry; a miss is ``NotFoundError`` naming the kind and what is available."""
    return Entry(name, registry.get(name), registry.plugin_of(name))


class CatalogueService:
    """The installed catalogue of one runtime: ``runtime.services.catalogue``."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # ------------------------------------------------------------------------ signals

    def signals(self, kind: str | None = None) -> list[Entry[Any]]:
        """Signal and noise generators (only one ``kind``, "signal" or "noise", if given)."""
        return [e for e in self.rt.registries.signals.entries()
                if kind is None or e.item.kind == kind]

    def signal(self, name: str) -> Entry[Any]:
        return _entry(self.rt.registries.signals, name)

    def preview(self, signal: ComponentSpec, noise: ComponentSpec | None, *, n: int,
                length: int, sampling: SamplingSpec, seed: int) -> tuple[Any, Any]:
        """A few series for a form's live plot, never stored, under the checks and the
        SYNTHTS_MAX_GENERATE_VALUES limit a stored dataset obeys: (times, values)."""
        from synthts_core.services.signals import preview

        return preview(self.rt.registries, signal, noise, n=n, length=length,
                       sampling=sampling, seed=seed,
                       max_values=self.rt.settings.max_generate_values)

    # ------------------------------------------------------------------------ presets

    def presets(self) -> list[Entry[Any]]:
        return self.rt.registries.presets.entries()

    def preset(self, name: str) -> Entry[Any]:
        return _entry(self.rt.registries.presets, name)

    # ------------------------------------------------------------------------ models

    def architectures(self) -> list[Entry[Any]]:
        """Installed model architectures of every family (``item``: the ``ModelArchitecture``)."""
        return self.rt.registries.architectures.entries()

    def metrics(self) -> list[Entry[Any]]:
        """Installed quality metrics (``item``: the ``Metric``)."""
        return self.rt.registries.metrics.entries()

    # ------------------------------------------------------------------------ plugins

    def plugins(self, *, builtin: bool = True) -> list[PluginInfo]:
        """Loaded plugins with their hooks, what each registered and any load error (a broken
        plugin is listed, not fatal); ``builtin=False`` leaves out the ones shipped with
        synthts."""
        return [i for i in self.rt.pm.plugin_infos() if builtin or not i.builtin]
