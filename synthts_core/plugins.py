"""Plugin manager: lazy, idempotent loading of the ``synthts`` entry-point group.

Each entry point loads inside its own try/except; a broken plugin is recorded and shown by
``synthts plugins``, not fatal, unless ``SYNTHTS_STRICT_PLUGINS=1``. Registration hooks are
called one plugin at a time so a registry knows who added what (and duplicate names can name both
plugins); a registration hook that raises is recorded like an import error.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from synthts_core import hookspecs
from synthts_core.errors import DuplicateNameError, PluginError
from synthts_core.registry import Registries

ENTRY_POINT_GROUP = "synthts"


@dataclass
class PluginFailure:
    name: str
    distribution: str | None
    error: str
    traceback: str = ""
    stage: str = "import"


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: list[str]
    registered: dict[str, list[str]] = field(default_factory=dict)
    builtin: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "distribution": self.distribution, "version": self.version,
            "builtin": self.builtin, "hooks": self.hooks, "registered": self.registered,
            "error": self.error,
        }


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus entry-point bookkeeping and the filled registries."""

    def __init__(self, *, strict: bool = False, disabled: list[str] | None = None) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.strict = strict
        self.disabled = set(disabled or [])
        self.failures: list[PluginFailure] = []
        self.distributions: dict[str, tuple[str | None, str | None]] = {}
        self._entry_points_loaded = False
        self._registries: Registries | None = None

    # ---------------------------------------------------------------- loading
    def load_entry_points(self) -> None:
        """Import every ``synthts`` entry point once; idempotent."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if ep.name in self.disabled or self.is_blocked(ep.name):
                continue
            if self.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as exc:
                if self.strict:
                    raise
                self.failures.append(PluginFailure(ep.name, dist, f"{type(exc).__name__}: {exc}",
                                                   traceback.format_exc()))
                continue
            self.distributions[ep.name] = (dist, version)
        self.check_pending()
        self._registries = None

    def register(self, plugin: object, name: str | None = None) -> str | None:
        result = super().register(plugin, name)
        self._registries = None
        return result

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        result = super().unregister(plugin, name)
        self._registries = None
        return result

    # ---------------------------------------------------------------- registries
    @property
    def registries(self) -> Registries:
        """Registries filled by every registered plugin (built once, rebuilt on changes)."""
        if self._registries is None:
            self._registries = self._collect()
        return self._registries

    def _collect(self) -> Registries:
        regs = Registries()
        # drop failures of an earlier collection; import failures stay
        self.failures = [f for f in self.failures if f.stage == "import"]
        for hook_name, registry in regs.by_hook().items():
            # pluggy calls the last registered first; keep registration order instead
            self.fill(hook_name, registry, newest_first=True)
        return regs

    def fill(self, hook_name: str, registry: Any, *, newest_first: bool = False,
             warn: bool = False) -> Any:
        """Call the registration hook ``hook_name`` of every plugin with ``registry`` (its
        ``current_plugin`` set to the caller, so entries know their plugin). A hook that raises
        is recorded in ``failures`` (``synthts plugins`` lists it; ``warn`` also logs it) and
        the rest go on; strict managers re-raise; a name registered twice always raises."""
        impls = getattr(self.hook, hook_name).get_hookimpls()
        for impl in reversed(impls) if newest_first else impls:
            registry.current_plugin = impl.plugin_name
            try:
                impl.function(registry=registry)
            except DuplicateNameError:
                raise
            except Exception as exc:
                if self.strict:
                    raise
                self.failures.append(PluginFailure(
                    impl.plugin_name, self.distributions.get(impl.plugin_name, (None,))[0],
                    f"{type(exc).__name__}: {exc} (in {hook_name})",
                    traceback.format_exc(), stage="register"))
                if warn:
                    logging.getLogger(__name__).warning(
                        "plugin %r: %s failed: %s: %s", impl.plugin_name, hook_name,
                        type(exc).__name__, exc)
        registry.current_plugin = "<unknown>"
        return registry

    # ---------------------------------------------------------------- introspection
    def plugin_infos(self) -> list[PluginInfo]:
        regs = self.registries
        infos: dict[str, PluginInfo] = {}
        for name, plugin in self.list_name_plugin():
            if plugin is None:
                continue
            dist, version = self.distributions.get(name, (None, None))
            hooks = sorted(h.name for h in self.get_hookcallers(plugin) or [])
            infos[name] = PluginInfo(name, dist, version, hooks, builtin=dist == "synthts")
        # one registry can take two hooks (an old hook name kept beside its new one)
        for registry in {id(r): r for r in regs.by_hook().values()}.values():
            for entry in registry.entries():
                if entry.plugin in infos:
                    infos[entry.plugin].registered.setdefault(registry.kind, []).append(entry.name)
        for failure in self.failures:
            info = infos.get(failure.name) or PluginInfo(failure.name, failure.distribution,
                                                         None, [])
            info.error = failure.error
            infos[failure.name] = info
        return [infos[k] for k in sorted(infos)]


def make_plugin_manager(*, load_entry_points: bool = True, strict: bool | None = None,
                        disabled: list[str] | None = None) -> PluginManager:
    """A plugin manager; entry points are loaded now unless ``load_entry_points=False``
    (tests register plugins by hand on a fresh manager)."""
    if strict is None or disabled is None:
        from synthts_core.settings import Settings

        settings = Settings()
        strict = settings.strict_plugins if strict is None else strict
        disabled = settings.disable_plugins if disabled is None else disabled
    pm = PluginManager(strict=strict, disabled=disabled)
    if load_entry_points:
        pm.load_entry_points()
    return pm


__all__ = ["PluginError", "PluginFailure", "PluginInfo", "PluginManager", "make_plugin_manager"]
