"""The core never names a built-in plugin: which architectures a job trains by default, the main
job's architecture and search space, the selection metric and the per-epoch curve are declared by
the plugins (optional attributes, see ``synthts_core.interfaces``); defaults that must name one
live in ``settings.py`` (the tracker, the storage URI).

The check reads every string literal of ``synthts_core`` (docstrings left out: prose may mention
the built-ins) and flags one that is a built-in plugin's name or a parameter of the GAN plugin,
or starts with a built-in storage scheme."""

from __future__ import annotations

import ast
from pathlib import Path

import synthts_core

CORE = Path(synthts_core.__file__).parent
EXEMPT_DIRS = ("testing",)  # test helpers start the real servers the plugins talk to
EXEMPT_FILES = ("settings.py",)  # the defaults that name a plugin live here
NAMES = {"cgan", "wgan_gp", "cwgan_gp", "backbone", "conditioning", "mlflow", "detector",
         "mmd", "timesynth", "sqlite", "mongo", "mongodb"}
SCHEMES = ("sqlite:", "mongodb:")

# What is left, owned by work in progress elsewhere: the file and the literal. Shrink it; a
# stale entry fails too, so the list never outlives the code it excuses.
KNOWN: set[tuple[str, str]] = set()


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def plugin_names_in(root: Path) -> dict[tuple[str, str], list[int]]:
    """(file relative to ``root``, name) -> the lines of each literal naming a plugin."""
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in EXEMPT_DIRS or rel in EXEMPT_FILES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) \
                    or id(node) in docs:
                continue
            text = node.value.strip().lower()
            if text in NAMES or text.startswith(SCHEMES):
                key = (rel, text.split(":")[0] if text.startswith(SCHEMES) else text)
                found.setdefault(key, []).append(node.lineno)
    return found


def test_the_core_names_no_builtin_plugin() -> None:
    found = plugin_names_in(CORE)
    new = {f"{f}:{lines} {name!r}" for (f, name), lines in found.items()
           if (f, name) not in KNOWN}
    assert not new, f"the core names built-in plugins (declare it in the plugin): {sorted(new)}"
    stale = KNOWN - set(found)
    assert not stale, f"no longer in the core, remove from KNOWN: {sorted(stale)}"


def test_the_check_finds_a_plugin_name(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text('TRACKER = "mlflow"\n')
    (tmp_path / "svc.py").write_text(
        '"""Ranks by mmd."""\n\n\ndef f(x: "Literal[\'a\']") -> None:\n'
        '    """The detector."""\n    x = {"arch": "cwgan_gp", "uri": "sqlite:///a.db"}\n'
        '    y = f"{x} and MMD"\n    z = ["vectorised", "TimeSynth "]\n')
    assert plugin_names_in(tmp_path) == {("svc.py", "cwgan_gp"): [6], ("svc.py", "sqlite"): [6],
                                         ("svc.py", "timesynth"): [8]}
