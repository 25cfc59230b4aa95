"""The hook specifications: the whole plugin contract of synthts.

Every hook receives a typed registry and the plugin calls ``registry.add(item)`` on it, the
one verb of every registry (``synthts_core.registry``). Each is documented in
docs/plugin_hooks.md (a test keeps the two in step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from synthts_core.registry import (
        ArchitectureRegistry,
        CommandRegistry,
        MetricRegistry,
        PresetRegistry,
        SignalRegistry,
        StorageRegistry,
        TrackerRegistry,
    )
    from synthts_core.settings import SettingsRegistry

PROJECT_NAME = "synthts"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_signal_generators(registry: SignalRegistry) -> None:
    """Add signal and noise generators (``SignalGenerator``) with ``registry.add(gen)``."""


@hookspec
def register_dataset_presets(registry: PresetRegistry) -> None:
    """Add named dataset specs (``DatasetPreset``) with ``registry.add(preset)``."""


@hookspec
def register_model_architectures(registry: ArchitectureRegistry) -> None:
    """Add generative model architectures of any family (GAN, diffusion, ...) as
    ``ModelArchitecture`` objects with ``registry.add(arch)``."""


@hookspec
def register_gan_architectures(registry: ArchitectureRegistry) -> None:
    """The old name of ``register_model_architectures``, kept so plugins written against it
    still load: it fills the same registry. New plugins implement the new name."""


@hookspec
def register_storage_backends(registry: StorageRegistry) -> None:
    """Add storage backends with ``registry.add(StorageBackendInfo(scheme, factory,
    description))``; ``factory(uri, settings)`` returns a ``StorageBackend``."""


@hookspec
def register_trackers(registry: TrackerRegistry) -> None:
    """Add trackers with ``registry.add(TrackerInfo(name, factory, description))``;
    ``factory(settings)`` returns a ``Tracker``."""


@hookspec
def register_metrics(registry: MetricRegistry) -> None:
    """Add quality metrics (``Metric``) with ``registry.add(metric)``."""


@hookspec
def register_settings(registry: SettingsRegistry) -> None:
    """Declare the plugin's settings with ``registry.add(model)``: a ``PluginSettings``
    subclass (``synthts_core.settings``) whose field ``x_y`` is read from ``SYNTHTS_X_Y``."""


@hookspec
def register_commands(registry: CommandRegistry) -> None:
    """Add ``synthts`` subcommands with ``registry.add(command)`` (a ``click.Command``)."""
