"""The layers are a checked contract (issue 26).

import-linter reads the contracts in ``pyproject.toml`` ([tool.importlinter]): front ends (API,
CLI, TUI) over services over the core, plugins on the core only, the TUI an HTTP client. The
first test runs them on the real tree; the next ones put a copy of a real package, with one
wrong import added, ahead of the installed one and show the same run breaks, naming the module
and the line. The AST rule at the end checks what an import graph cannot see: a controller or
command reaching for the runtime's storage, tracker, registries or plugin manager by attribute.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "synthts_core"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = [c["id"] for c in tomllib.loads((REPO / "pyproject.toml").read_text())
             ["tool"]["importlinter"]["contracts"]]


def lint_imports(*, pythonpath: Path | None = None,
                 contract: str | None = None) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's config and no cache (nothing written to the tree);
    ``pythonpath`` first on the path, so a package copied there shadows the installed one
    (and the working directory, which lint-imports also puts first, so the repository's own
    ``synthts_core`` does not); ``contract`` (an id) checks that contract alone."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(pythonpath or ""), os.environ.get("PYTHONPATH", "")) if p)}
    only = ["--contract", contract] if contract else []
    return subprocess.run([str(LINT_IMPORTS), str(REPO / "pyproject.toml"), "--no-cache",
                           "--no-logo", *only], capture_output=True, text=True, env=env,
                          cwd=pythonpath or REPO, timeout=300)


def test_the_layer_contracts_hold_on_the_real_tree() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout
    assert "KEPT" in result.stdout and "BROKEN" not in result.stdout


def _copy_with_wrong_import(tmp_path: Path, package: Path, module: str, line: str) -> int:
    """Copy ``package`` under ``tmp_path`` and append ``line`` to its ``module`` (a path inside
    the package); the line number it landed on."""
    copy = tmp_path / package.name
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    source = target.read_text()
    target.write_text(f"{source.rstrip()}\n{line}\n")
    return len(source.rstrip().splitlines()) + 1


WRONG_IMPORTS = [
    pytest.param(REPO / "plugins" / "synthts_metrics", "detector.py",
                 "from synthts_core.services import evaluation",
                 "synthts_metrics.detector -> synthts_core.services.evaluation",
                 "only-front-ends-use-services", id="a plugin imports a service"),
    pytest.param(ROOT, "figures.py", "from synthts_core.services import evaluation",
                 "synthts_core.figures -> synthts_core.services.evaluation",
                 "only-front-ends-use-services", id="the core imports a service"),
    pytest.param(ROOT, "domain.py", "from synthts_core import cli",
                 "synthts_core.domain -> synthts_core.cli",
                 "nothing-imports-a-front-end", id="the core imports a front end"),
    pytest.param(REPO / "tui" / "synthts_tui", "screens/evaluate.py",
                 "from synthts_core.api import create_app",
                 "synthts_tui.screens.evaluate -> synthts_core.api",
                 "nothing-imports-a-front-end", id="a TUI screen imports the API"),
    pytest.param(REPO / "plugins" / "synthts_gan", "plugin.py", "import synthts_diffusion",
                 "synthts_gan.plugin -> synthts_diffusion", "plugins-independent",
                 id="a plugin imports another"),
    pytest.param(ROOT, "registry.py", "import synthts_sqlite",
                 "synthts_core.registry -> synthts_sqlite", "core-imports-no-plugin",
                 id="the core imports a plugin"),
    pytest.param(ROOT, "cli/commands/import_.py", "from synthts_core import registry",
                 "synthts_core.cli.commands.import_ -> synthts_core.registry",
                 "front-ends-through-services", id="a command imports the registries"),
    pytest.param(ROOT, "services/datasets.py", "from synthts_core import cli",
                 "synthts_core.services.datasets -> synthts_core.cli",
                 "services-under-front-ends", id="a service imports a front end"),
]


@pytest.mark.parametrize(("package", "module", "line", "message", "contract"), WRONG_IMPORTS)
def test_a_wrong_import_breaks_the_contracts(tmp_path: Path, package: Path, module: str,
                                             line: str, message: str, contract: str) -> None:
    """The contracts must be able to fail: one wrong import in a copy of a real module, and
    ``lint-imports``, checking ``contract`` alone, names the module and the line (the TUI's
    one allowed import of the API, ``local_api``, does not excuse a screen)."""
    number = _copy_with_wrong_import(tmp_path, package, module, line)
    result = lint_imports(pythonpath=tmp_path, contract=contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken" in result.stdout, result.stdout
    assert f"{message} (l.{number})" in result.stdout, result.stdout


def test_every_contract_is_shown_to_fail() -> None:
    """A contract no wrong import above breaks could be vacuous (a misspelt module name)."""
    assert sorted({p.values[4] for p in WRONG_IMPORTS}) == sorted(CONTRACTS)


# ---------------------------------------------------------------- the attribute rule (AST)
FRONT_ENDS = sorted([*(ROOT / "api" / "controllers").glob("*.py"),
                     *(ROOT / "cli" / "commands").glob("*.py")])

FORBIDDEN_ATTRIBUTES = {"storage", "tracker", "registries", "pm"}
"""The runtime's parts that only services touch."""


def violations(source: str) -> list[str]:
    """``.storage``, ``.tracker``, ``.registries`` and ``.pm`` reached in ``source``: the
    import contracts cannot see an attribute of an object a service handed over."""
    return [f"line {node.lineno}: .{node.attr}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES]


@pytest.mark.parametrize("path", FRONT_ENDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_front_ends_reach_the_application_through_services_only(path: Path) -> None:
    assert violations(path.read_text()) == [], f"{path.relative_to(ROOT.parent)} goes around " \
        "the services; call a method of runtime.services.<resource> instead"


def test_the_rule_catches_each_kind_of_shortcut() -> None:
    """The check itself must be able to fail."""
    assert violations("rt.storage.list_datasets(q)") == ["line 1: .storage"]
    assert violations("x = runtime.tracker") == ["line 1: .tracker"]
    assert violations("runtime.registries.metrics.get('mmd')") == ["line 1: .registries"]
    assert violations("rt.pm.hook.register_metrics") == ["line 1: .pm"]
    assert violations("from synthts_core.services import datasets\n"
                      "rt.services.datasets.list(q)") == []
