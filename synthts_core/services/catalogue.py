"""Catalogue service: what is installed. Signal and noise generators (with a live preview),
dataset presets, model architectures, quality metrics and the plugins that added them.

Each listing is in name order and made of typed read models (``synthts_core.catalogue_items``)
built here from the registries' plugin objects, so front ends never call a plugin object; a
single lookup raises ``NotFoundError`` naming what is available.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from synthts_core.catalogue_items import ArchitectureInfo, MetricInfo, PresetInfo, SignalInfo
from synthts_core.registry import Entry

if TYPE_CHECKING:
    from synthts_core.domain import ComponentSpec, SamplingSpec
    from synthts_core.plugins import PluginInfo
    from synthts_core.registry import Registry
    from synthts_core.runtime import Runtime


def _entry(registry: Registry[Any], name: str) -> Entry[Any]:
    """One entry; a miss is ``NotFoundError`` naming the kind and what is available."""
    return Entry(name, registry.get(name), registry.plugin_of(name))


def _description(item: Any) -> str:
    return getattr(item, "description", "") or ""


def _signal(entry: Entry[Any]) -> SignalInfo:
    gen = entry.item
    from synthts_core.services.signals import engines_of

    return SignalInfo(name=entry.name, kind=gen.kind, description=_description(gen),
                      plugin=entry.plugin, params=gen.schema.to_json(),
                      engines=engines_of(gen), random=bool(getattr(gen, "random", True)))


def _preset(entry: Entry[Any]) -> PresetInfo:
    preset = entry.item
    return PresetInfo(name=entry.name, description=preset.description, plugin=entry.plugin,
                      spec=msgspec.to_builtins(preset.spec()))


def _architecture(entry: Entry[Any]) -> ArchitectureInfo:
    from synthts_core.interfaces import family_of  # (NumPy: not for a bare catalogue import)

    arch = entry.item
    return ArchitectureInfo(name=entry.name, family=family_of(arch),
                            description=_description(arch), conditional=bool(arch.conditional),
                            plugin=entry.plugin, space=arch.space.to_json())


def _metric(entry: Entry[Any]) -> MetricInfo:
    metric = entry.item
    return MetricInfo(name=entry.name, description=_description(metric),
                      higher_is_better=bool(metric.higher_is_better), plugin=entry.plugin)


class CatalogueService:
    """The installed catalogue of one runtime: ``runtime.services.catalogue``."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # ------------------------------------------------------------------------ signals

    def signals(self, kind: str | None = None) -> list[SignalInfo]:
        """Signal and noise generators (only one ``kind``, "signal" or "noise", if given)."""
        return [_signal(e) for e in self.rt.registries.signals.entries()
                if kind is None or e.item.kind == kind]

    def signal(self, name: str) -> SignalInfo:
        return _signal(_entry(self.rt.registries.signals, name))

    def preview(self, signal: ComponentSpec, noise: ComponentSpec | None, *, n: int,
                length: int, sampling: SamplingSpec, seed: int) -> tuple[Any, Any]:
        """A few series for a form's live plot, never stored, under the checks and the
        SYNTHTS_MAX_GENERATE_VALUES limit a stored dataset obeys: (times, values)."""
        from synthts_core.services.signals import preview

        return preview(self.rt.registries, signal, noise, n=n, length=length,
                       sampling=sampling, seed=seed,
                       max_values=self.rt.settings.max_generate_values)

    # ------------------------------------------------------------------------ presets

    def presets(self) -> list[PresetInfo]:
        return [_preset(e) for e in self.rt.registries.presets.entries()]

    def preset(self, name: str) -> PresetInfo:
        return _preset(_entry(self.rt.registries.presets, name))

    # ------------------------------------------------------------------------ models

    def architectures(self) -> list[ArchitectureInfo]:
        """Installed model architectures of every family with their hyper-parameter spaces."""
        return [_architecture(e) for e in self.rt.registries.architectures.entries()]

    def metrics(self) -> list[MetricInfo]:
        """Installed quality metrics."""
        return [_metric(e) for e in self.rt.registries.metrics.entries()]

    # ------------------------------------------------------------------------ plugins

    def plugins(self, *, builtin: bool = True) -> list[PluginInfo]:
        """Loaded plugins with their hooks, what each registered and any load error (a broken
        plugin is listed, not fatal); ``builtin=False`` leaves out the ones shipped with
        synthts."""
        return [i for i in self.rt.pm.plugin_infos() if builtin or not i.builtin]
