"""Plugin manager rules: registration, duplicates, broken and disabled plugins."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from synthts_core import hookimpl
from synthts_core.errors import DuplicateNameError, PluginError
from synthts_core.schema import ParamSchema


class _Gen:
    kind = "signal"
    description = "constant zero"
    schema = ParamSchema(())

    def __init__(self, name):
        self.name = name

    def generate(self, n, times, params, rng):
        return np.zeros((n, times.shape[-1]))


class PluginA:
    @hookimpl
    def register_signal_generators(self, registry):
        registry.add(_Gen("flat"))


class PluginB:
    @hookimpl
    def register_signal_generators(self, registry):
        registry.add(_Gen("flat"))


def test_registry_records_the_plugin(synthts_pm, register_plugin):
    register_plugin(PluginA(), name="alpha")
    assert synthts_pm.registries.signals.names() == ["flat"]
    assert synthts_pm.registries.signals.plugin_of("flat") == "alpha"


def test_duplicate_name_names_both_plugins(synthts_pm, register_plugin):
    register_plugin(PluginA(), name="alpha")
    register_plugin(PluginB(), name="beta")
    with pytest.raises(DuplicateNameError) as info:
        synthts_pm.registries  # noqa: B018
    message = str(info.value)
    assert "'alpha'" in message and "'beta'" in message and "'flat'" in message


def test_misspelt_hook_is_caught(synthts_pm):
    class Typo:
        @hookimpl
        def register_signal_generator(self, registry):  # missing "s"
            pass

    synthts_pm.register(Typo(), name="typo")
    with pytest.raises(Exception, match="unknown hook"):
        synthts_pm.check_pending()


def test_item_missing_required_attributes_is_rejected(synthts_pm, register_plugin):
    class Bad:
        @hookimpl
        def register_signal_generators(self, registry):
            registry.add(object(), name="nothing")

    register_plugin(Bad(), name="bad")
    with pytest.raises(PluginError, match="lacks"):
        synthts_pm.registries  # noqa: B018


def test_builtin_plugins_load_through_entry_points(synthts_pm):
    synthts_pm.load_entry_points()
    names = {name for name, _ in synthts_pm.list_name_plugin()}
    assert {"timesynth", "gan", "sqlite", "mongo", "mlflow", "metrics", "example"} <= names
    synthts_pm.load_entry_points()  # idempotent
    assert {name for name, _ in synthts_pm.list_name_plugin()} == names


# ------------------------------------------------------------------ real broken entry points


@pytest.fixture
def broken_plugin_path(tmp_path: Path) -> Path:
    """A real installed distribution (dist-info on sys.path) whose entry point raises."""
    (tmp_path / "broken_synthts_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    dist = tmp_path / "broken_synthts_plugin-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-synthts-plugin\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[synthts]\nbroken = broken_synthts_plugin\n")
    return tmp_path


def _run_cli(args, extra_path: Path, **env):
    full_env = {**os.environ, "PYTHONPATH": str(extra_path), **env}
    return subprocess.run([sys.executable, "-m", "synthts_core.cli", *args],
                          capture_output=True, text=True, env=full_env, timeout=120)


def test_broken_plugin_is_listed_with_its_error_and_cli_works(broken_plugin_path):
    result = _run_cli(["plugins", "--all", "--json"], broken_plugin_path)
    assert result.returncode == 0, result.stderr
    infos = {i["name"]: i for i in json.loads(result.stdout)}
    assert "boom at import" in infos["broken"]["error"]
    assert infos["broken"]["distribution"] == "broken-synthts-plugin"
    assert infos["example"]["registered"]["signal generator"] == ["sawtooth"]


def test_strict_mode_reraises(broken_plugin_path):
    result = _run_cli(["plugins", "--json"], broken_plugin_path, SYNTHTS_STRICT_PLUGINS="1")
    assert result.returncode != 0
    assert "boom at import" in result.stderr


def test_disabled_plugin_is_not_loaded(broken_plugin_path):
    result = _run_cli(["plugins", "--all", "--json"], broken_plugin_path,
                      SYNTHTS_DISABLE_PLUGINS="broken,example")
    assert result.returncode == 0, result.stderr
    names = {i["name"] for i in json.loads(result.stdout)}
    assert "broken" not in names and "example" not in names and "sqlite" in names


def test_all_default_plugins_are_listed_with_what_they_registered():
    result = subprocess.run([sys.executable, "-m", "synthts_core.cli", "plugins", "--all",
                             "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    infos = {i["name"]: i for i in json.loads(result.stdout)}
    for name in ("timesynth", "gan", "sqlite", "mongo", "mlflow", "metrics", "example"):
        assert name in infos
        assert infos[name]["error"] is None
    for name in ("timesynth", "gan", "sqlite", "mongo", "mlflow", "metrics"):
        assert infos[name]["builtin"] and infos[name]["version"]
    assert "sawtooth" in infos["example"]["registered"]["signal generator"]


def test_import_hygiene():
    code = textwrap.dedent("""
        import sys, synthts_core, synthts_core.plugins, synthts_core.runtime
        import synthts_core.domain, synthts_core.settings, synthts_core.cli
        heavy = ["torch", "ray", "mlflow", "mongoengine", "litestar", "textual", "plotly"]
        print(",".join(m for m in heavy if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
