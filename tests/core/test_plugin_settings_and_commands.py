"""Plugins declare their own settings (``register_settings``) and commands
(``register_commands``): the core's settings, ``synthts config``, the README's table and the
command list are built from what the core and the plugins declare."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from pydantic import Field

from synthts_core import hookimpl
from synthts_core.cli import cli
from synthts_core.errors import DuplicateNameError
from synthts_core.runtime import Runtime
from synthts_core.settings import (
    PluginSettings,
    Settings,
    _installed_settings,
    describe_settings,
)

ROOT = Path(__file__).resolve().parents[2]

# a real plugin package, installed as a distribution (dist-info on sys.path) as pip would
DEMO_PLUGIN = '''
from pydantic import Field

from synthts_core import hookimpl
from synthts_core.settings import PluginSettings


class DemoSettings(PluginSettings):
    demo_bucket: str = Field("synthts-demo", description="Bucket the demo plugin writes to.")
    demo_limit: int = Field(5, ge=1, le=100, description="Objects per demo batch.")


@hookimpl
def register_settings(registry):
    registry.add(DemoSettings)
'''


def _readme_missing(rows: list[dict[str, str]]) -> list[str]:
    """The README check of test_docs_and_settings, on the given rows."""
    readme = (ROOT / "README.md").read_text()
    return [r["env"] for r in rows if f"`{r['env']}`" not in readme]


@pytest.fixture
def demo_plugin_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "synthts_demo_settings_plugin.py").write_text(DEMO_PLUGIN)
    dist = tmp_path / "synthts_demo_settings_plugin-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: synthts-demo-settings-plugin\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[synthts]\ndemo = synthts_demo_settings_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env of the working folder
    _installed_settings.cache_clear()  # the installed plugins are read once per process
    yield tmp_path
    monkeypatch.undo()
    _installed_settings.cache_clear()


def test_builtin_storage_and_tracker_settings_are_declared_by_their_plugins() -> None:
    assert not [n for n in Settings.model_fields if n.startswith(("mongo_", "mlflow_"))]
    plugin_of = {r["env"]: r["plugin"] for r in describe_settings()}
    assert plugin_of["SYNTHTS_MONGO_TIMEOUT_MS"] == "mongo"
    assert plugin_of["SYNTHTS_MLFLOW_URI"] == "mlflow"
    assert plugin_of["SYNTHTS_RAY_ADDRESS"] == plugin_of["SYNTHTS_API_PORT"] == ""
    # the README's two tables hold each row as describe_settings words it
    readme = (ROOT / "README.md").read_text()
    for r in describe_settings():
        cells = [f"`{r['env']}`", *([r["plugin"]] if r["plugin"] else []), f"`{r['default']}`",
                 r["description"]]
        assert f"| {' | '.join(cells)} |" in readme, r["env"]
    settings = Settings(mongo_username="svc", mlflow_uri="http://u:pw@127.0.0.1:5000",
                        _env_file=None)
    assert settings.mongo_username == "svc"
    assert settings.masked()["mlflow_uri"] == "http://u:********@127.0.0.1:5000"


def test_a_plugin_setting_appears_in_config_and_the_readme_check(
        demo_plugin_installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHTS_DATA_DIR", str(demo_plugin_installed / "data"))
    monkeypatch.setenv("SYNTHTS_DEMO_BUCKET", "my-bucket")
    result = CliRunner().invoke(cli, ["config", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["demo_bucket"] == "my-bucket" and shown["demo_limit"] == 5
    assert shown["mongo_timeout_ms"] == 3000  # the built-in plugins' beside it
    row = next(r for r in describe_settings() if r["env"] == "SYNTHTS_DEMO_LIMIT")
    assert row["plugin"] == "demo" and row["default"] == "5"
    assert _readme_missing(describe_settings()) == ["SYNTHTS_DEMO_BUCKET", "SYNTHTS_DEMO_LIMIT"]
    settings = Settings(demo_limit=7, _env_file=None)  # a keyword sets a plugin's setting too
    assert settings.demo_limit == 7 and settings.demo_bucket == "my-bucket"


def test_a_bad_plugin_setting_is_one_line_naming_it(demo_plugin_installed: Path) -> None:
    env = {"SYNTHTS_DATA_DIR": str(demo_plugin_installed / "data"), "SYNTHTS_DEMO_LIMIT": "0"}
    result = CliRunner().invoke(cli, ["config"], env=env)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: SYNTHTS_DEMO_LIMIT: Input should be greater than or equal to 1"]
    env = {"SYNTHTS_DATA_DIR": str(demo_plugin_installed / "data"),
           "SYNTHTS_MONGO_TIMEOUT_MS": "soon"}
    result = CliRunner().invoke(cli, ["config"], env=env)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error: SYNTHTS_MONGO_TIMEOUT_MS: ")


class _Clash(PluginSettings):
    api_port: int = Field(1, description="Taken by the core.")


class ClashingSettings:
    @hookimpl
    def register_settings(self, registry):
        registry.add(_Clash)


def test_a_setting_declared_twice_names_both(synthts_pm, register_plugin) -> None:
    register_plugin(ClashingSettings(), name="clash")
    with pytest.raises(DuplicateNameError) as info:
        describe_settings(synthts_pm)
    assert "SYNTHTS_API_PORT" in str(info.value) and "'clash'" in str(info.value)


@click.command("hello")
@click.option("--name", default="world")
def hello(name: str) -> None:
    """Say hello (a plugin's command)."""
    click.echo(f"hello {name}")


class HelloCommands:
    @hookimpl
    def register_commands(self, registry):
        registry.add(hello)


class TakesConfig:
    @hookimpl
    def register_commands(self, registry):
        registry.add(click.Command("config", callback=lambda: None))


def test_a_plugin_adds_a_command(synthts_pm, register_plugin, synthts_settings) -> None:
    register_plugin(HelloCommands(), name="greeter")
    rt = Runtime(synthts_settings, synthts_pm)
    runner = CliRunner()
    listing = runner.invoke(cli, ["--help"], obj=rt)
    assert listing.exit_code == 0
    assert "hello" in listing.output and "Say hello" in listing.output
    assert "config" in listing.output  # beside the built-in ones
    result = runner.invoke(cli, ["hello", "--name", "plugin"], obj=rt)
    assert result.exit_code == 0 and result.output == "hello plugin\n"
    register_plugin(TakesConfig(), name="squatter")
    taken = runner.invoke(cli, ["--help"], obj=rt)
    assert taken.exit_code == 1 and "Traceback" not in taken.output
    assert "'squatter'" in taken.output and "'config'" in taken.output


def test_the_tui_command_comes_from_the_tui_plugin() -> None:
    listing = CliRunner().invoke(cli, ["--help"])
    assert listing.exit_code == 0 and "tui" in listing.output
    imports = re.compile(r"^\s*(from|import)\s+synthts_tui\b", re.M)
    importers = [str(p.relative_to(ROOT)) for p in (ROOT / "synthts_core").rglob("*.py")
                 if imports.search(p.read_text())]
    assert importers == []
