"""What the catalogue answers: typed read models of the installed signal generators, dataset
presets, model architectures and quality metrics.

``CatalogueService`` builds them from the registries' plugin objects, so a front end reads
plain data (names, descriptions, parameter schemas as the ``Param`` JSON form) and never calls
a plugin object itself. Each records the plugin that added it.
"""

from __future__ import annotations

from typing import Any

import msgspec


class CatalogueItem(msgspec.Struct, kw_only=True):
    """What every installed item has: its name, a line on what it is, the plugin that added it."""

    name: str
    description: str
    plugin: str


class SignalInfo(CatalogueItem, kw_only=True):
    """A signal or noise generator with the parameter schema a form is built from."""

    kind: str  # "signal" or "noise"
    params: list[dict[str, Any]]
    engines: list[str]  # the engines that can run it (``services.signals.engines_of``)
    random: bool  # whether it draws from the seed (a plain sinusoid does not)


class PresetInfo(CatalogueItem, kw_only=True):
    """A named dataset spec and the spec it expands to with default options."""

    spec: dict[str, Any]


class ArchitectureInfo(CatalogueItem, kw_only=True):
    """A model architecture, its family (gan, diffusion, ...) and its hyper-parameter space."""

    family: str
    conditional: bool
    space: list[dict[str, Any]]


class MetricInfo(CatalogueItem, kw_only=True):
    """A quality metric an evaluation may ask for."""

    higher_is_better: bool
