"""Typed registries the registration hooks fill.

A hook receives a registry and calls ``registry.add(item)``, the one verb of every kind. Each
registry is typed by what it holds (``registries.architectures.get(name)`` is a
``ModelArchitecture``); storage backends and trackers are added as ``StorageBackendInfo`` /
``TrackerInfo`` (a name and a factory). The plugin manager sets ``current_plugin`` around each
plugin's call so a duplicate name can name both plugins. ``CommandRegistry`` is what
``register_commands`` fills (the CLI reads it; the hook spec and the plugins only name it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from synthts_core.errors import BadInputError, DuplicateNameError, NotFoundError, PluginError

if TYPE_CHECKING:  # the protocols are only type arguments here: loading plugins imports no NumPy
    import click

    from synthts_core.interfaces import (  # noqa: F401 (named in strings: Registry["Metric"])
        DatasetPreset,
        Metric,
        ModelArchitecture,
        SignalGenerator,
        StorageFactory,
        TrackerFactory,
    )

T = TypeVar("T")


@dataclass
class Entry(Generic[T]):
    name: str
    item: T
    plugin: str


@dataclass
class Registry(Generic[T]):
    """Name -> item, remembering which plugin added each."""

    kind: str
    required: tuple[str, ...] = ()
    current_plugin: str = "<unknown>"
    _entries: dict[str, Entry[T]] = field(default_factory=dict)

    def add(self, item: T, *, name: str | None = None) -> T:
        name = name or getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.kind} from plugin {self.current_plugin!r} has no name")
        missing = [a for a in self.required if not hasattr(item, a)]
        if missing:
            raise PluginError(
                f"{self.kind} {name!r} from plugin {self.current_plugin!r} lacks {missing}"
            )
        if name in self._entries:
            raise DuplicateNameError(self.kind, name, self._entries[name].plugin,
                                     self.current_plugin)
        self._entries[name] = Entry(name, item, self.current_plugin)
        return item

    def get(self, name: str) -> T:
        try:
            return self._entries[name].item
        except KeyError:
            raise NotFoundError(self.kind, name, hint=f"available: {', '.join(self.names()) or 'none'}") from None

    def require(self, name: Any, field: str) -> T:
        """Like ``get`` but a miss is bad input in ``field`` (for user-supplied names)."""
        if not isinstance(name, str) or name not in self._entries:
            raise BadInputError(field, f"unknown {self.kind} {name!r}",
                                allowed=", ".join(self.names()) or f"no {self.kind} is installed")
        return self._entries[name].item

    def plugin_of(self, name: str) -> str:
        return self._entries[name].plugin

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[T]:
        return [self._entries[n].item for n in self.names()]

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(self.items())

    def __len__(self) -> int:
        return len(self._entries)


class SignalRegistry(Registry["SignalGenerator"]):
    def __init__(self) -> None:
        super().__init__("signal generator", ("kind", "schema", "generate"))


class PresetRegistry(Registry["DatasetPreset"]):
    def __init__(self) -> None:
        super().__init__("dataset preset", ("spec", "description"))


class ArchitectureRegistry(Registry["ModelArchitecture"]):
    def __init__(self) -> None:
        super().__init__("model architecture", ("space", "build", "conditional"))


class MetricRegistry(Registry["Metric"]):
    def __init__(self) -> None:
        super().__init__("metric", ("compute", "higher_is_better"))


@dataclass
class StorageBackendInfo:
    """A storage backend chosen by URI scheme (``sqlite``, ``mongodb``, ...):
    ``factory(uri, settings)`` returns a ``StorageBackend``."""

    scheme: str
    factory: StorageFactory
    description: str = ""

    @property
    def name(self) -> str:
        return self.scheme


class StorageRegistry(Registry[StorageBackendInfo]):
    def __init__(self) -> None:
        super().__init__("storage backend", ("factory",))

    def for_uri(self, uri: str) -> StorageBackendInfo:
        scheme = uri.split("://", 1)[0].split("+", 1)[0] if "://" in uri else ""
        if scheme not in self:
            raise BadInputError("SYNTHTS_STORAGE", f"no storage backend for URI scheme {scheme!r}",
                                allowed=", ".join(f"{s}://..." for s in self.names()) or "none installed")
        return self.get(scheme)


@dataclass
class TrackerInfo:
    """A tracker chosen by name (``SYNTHTS_TRACKER``): ``factory(settings)`` returns a
    ``Tracker``."""

    name: str
    factory: TrackerFactory
    description: str = ""


class TrackerRegistry(Registry[TrackerInfo]):
    def __init__(self) -> None:
        super().__init__("tracker", ("factory",))


class CommandRegistry:
    """What ``register_commands`` receives: ``registry.add(command)`` adds a ``click.Command``
    as ``synthts <command.name>``. A name is taken once: by a built-in command or one plugin."""

    kind = "command"

    def __init__(self, reserved: Iterable[str] | None = None) -> None:
        self.current_plugin = "<unknown>"
        self._commands: dict[str, tuple[click.Command, str]] = {}
        self._reserved = set(reserved or ())

    def add(self, command: click.Command) -> click.Command:
        import click  # here, not at the top: loading the other registries imports no click

        name = getattr(command, "name", None)
        if not isinstance(command, click.Command) or not name:
            raise PluginError(f"command from plugin {self.current_plugin!r} must be a named "
                              f"click.Command, not {command!r}")
        if name in self._reserved:
            raise DuplicateNameError(self.kind, name, "synthts core", self.current_plugin)
        if name in self._commands:
            raise DuplicateNameError(self.kind, name, self._commands[name][1],
                                     self.current_plugin)
        self._commands[name] = (command, self.current_plugin)
        return command

    def get(self, name: str) -> click.Command | None:
        found = self._commands.get(name)
        return found[0] if found else None

    def names(self) -> list[str]:
        return sorted(self._commands)

    def plugin_of(self, name: str) -> str:
        return self._commands[name][1]


@dataclass
class Registries:
    signals: SignalRegistry = field(default_factory=SignalRegistry)
    presets: PresetRegistry = field(default_factory=PresetRegistry)
    architectures: ArchitectureRegistry = field(default_factory=ArchitectureRegistry)
    storage: StorageRegistry = field(default_factory=StorageRegistry)
    trackers: TrackerRegistry = field(default_factory=TrackerRegistry)
    metrics: MetricRegistry = field(default_factory=MetricRegistry)

    def by_hook(self) -> dict[str, Registry[Any]]:
        return {
            "register_signal_generators": self.signals,
            "register_dataset_presets": self.presets,
            "register_model_architectures": self.architectures,
            "register_gan_architectures": self.architectures,  # the old name: still loads
            "register_storage_backends": self.storage,
            "register_trackers": self.trackers,
            "register_metrics": self.metrics,
        }
