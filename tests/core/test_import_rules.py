"""Services are the only way into the application (issue 17).

Controllers and CLI commands translate between their front end and the services; they never
reach storage, the tracker, the plugin registries or a plugin package themselves. This reads
their source (AST, no import) so a new shortcut fails here with the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "synthts_core"
FRONT_ENDS = sorted([*(ROOT / "api" / "controllers").glob("*.py"),
                     *(ROOT / "cli" / "commands").glob("*.py")])

FORBIDDEN_ATTRIBUTES = {"storage", "tracker", "registries", "pm"}
"""The runtime's parts that only services touch."""

ALLOWED_CORE_MODULES = (
    "synthts_core.services", "synthts_core.api", "synthts_core.cli", "synthts_core.domain",
    "synthts_core.errors", "synthts_core.figures", "synthts_core.settings",
    "synthts_core.schema", "synthts_core.measured", "synthts_core.runtime",
    "synthts_core.__version__")
"""What a front end may import from the core: services, the API's schemas and plumbing, value
types and errors. Storage, tracker, registries, plugin hooks and the plugin packages are not
on the list."""


PLUGIN_PACKAGES = ("synthts_gan", "synthts_mlflow", "synthts_sqlite", "synthts_mongo",
                   "synthts_timesynth", "synthts_metrics", "synthts_tui")


def _core_module_allowed(module: str) -> bool:
    return any(module == allowed or module.startswith(allowed + ".")
               for allowed in ALLOWED_CORE_MODULES)


def violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"line {node.lineno}: .{node.attr}")
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            # ``from synthts_core import registry`` names the module in the imported name
            modules = [f"{node.module}.{a.name}" for a in node.names] if node.module == \
                "synthts_core" else [node.module]
        for module in modules:
            top = module.split(".")[0]
            if (top == "synthts_core" and not _core_module_allowed(module)) or \
                    top in PLUGIN_PACKAGES:
                found.append(f"line {node.lineno}: import {module}")
    return found


@pytest.mark.parametrize("path", FRONT_ENDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_front_ends_reach_the_application_through_services_only(path: Path) -> None:
    assert violations(path.read_text()) == [], f"{path.relative_to(ROOT.parent)} goes around " \
        "the services; call a method of runtime.services.<resource> instead"


def test_the_rule_catches_each_kind_of_shortcut() -> None:
    """The check itself must be able to fail."""
    assert violations("rt.storage.list_datasets(q)") == ["line 1: .storage"]
    assert violations("x = runtime.tracker") == ["line 1: .tracker"]
    assert violations("runtime.registries.metrics.get('mmd')") == ["line 1: .registries"]
    assert violations("from synthts_core.plugins import get_plugin_manager")
    assert violations("from synthts_core import registry") == [
        "line 1: import synthts_core.registry"]
    assert violations("import synthts_gan.trainer") == ["line 1: import synthts_gan.trainer"]
    assert violations("import synthts_core.storage_support") == [
        "line 1: import synthts_core.storage_support"]
    assert violations("from synthts_core import __version__\n"
                      "from synthts_core.api.schemas import DatasetRead") == []
    assert violations("from synthts_core.services import datasets\n"
                      "rt.services.datasets.list(q)") == []
