"""The ``synthts`` command line.

Subcommands live one per module in ``synthts_core/cli/commands/`` (each exposes ``command``)
and are imported only when used, so ``synthts --help`` stays fast and light. Plugins add their
own through the ``register_commands`` hook (``synthts tui`` comes from the TUI package): their
names are listed beside the built-in ones, and a built-in name cannot be taken.
"""

from __future__ import annotations

import functools
import importlib
import keyword
import logging
import pkgutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from synthts_core.errors import BadInputError, SynthtsError
from synthts_core.registry import CommandRegistry

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

COMMANDS_PACKAGE = "synthts_core.cli.commands"


@functools.cache
def builtin_command_names() -> tuple[str, ...]:
    pkg = importlib.import_module(COMMANDS_PACKAGE)
    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    # ``import_.py`` -> ``import``: a trailing underscore dodges Python keywords
    return tuple(sorted(n.rstrip("_").replace("_", "-") for n in names))


def plugin_commands(pm: Any) -> CommandRegistry:
    """The commands the plugins registered on ``pm`` add. A hook that raises is reported on
    stderr and skipped (re-raised when the manager is strict); a taken name is an error."""
    return pm.fill("register_commands", CommandRegistry(reserved=builtin_command_names()),
                   warn=True)


def installed_commands() -> CommandRegistry:
    """Commands of the installed plugins (entry points), loaded as ``synthts plugins`` does:
    this imports each plugin's module, not what its commands need (a command imports that when
    it runs)."""
    from synthts_core.plugins import PluginManager
    from synthts_core.settings import plugin_switches

    pm = PluginManager(**plugin_switches())
    pm.load_entry_points()
    return plugin_commands(pm)


@contextmanager
def cli_runtime(ctx: click.Context) -> Iterator[Runtime]:
    """The runtime passed as ``obj`` (tests, embedding apps), else one closed at the end."""
    from synthts_core.runtime import Runtime

    given = ctx.find_object(Runtime)
    if given is not None:
        yield given
        return
    rt = Runtime()
    try:
        yield rt
    finally:
        rt.close()


class ConsoleLog(logging.Handler):
    """How a command prints log records when logging is not configured (it takes the place of
    Python's last-resort handler: WARNING and above, to stderr). A record carrying a
    ``SynthtsError`` is its message alone: the error already says what failed and what to do,
    and the command ends with it as ``error: ...``; a traceback is printed only for an
    unexpected exception, where it is the one clue."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exc = record.exc_info[1] if record.exc_info else None
            text = record.getMessage() if isinstance(exc, SynthtsError) else self.format(record)
            sys.stderr.write(text + "\n")  # looked up now: tests and pagers swap stderr
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def install_console_log() -> None:
    """Use ``ConsoleLog`` for records no handler takes (a configured logging wins)."""
    if not isinstance(logging.lastResort, ConsoleLog):
        logging.lastResort = ConsoleLog()


class LazyGroup(click.Group):
    """Built-in commands imported on use, plus the plugins' (``register_commands``): those of
    the runtime passed as ``obj`` when there is one, else of the installed plugins."""

    def plugin_commands(self, ctx: click.Context) -> CommandRegistry:
        root = ctx.find_root()
        found = root.meta.get("synthts.plugin_commands")
        if found is None:
            given = None
            if root.obj is not None:
                from synthts_core.runtime import Runtime

                given = ctx.find_object(Runtime)
            try:
                found = plugin_commands(given.pm) if given is not None else installed_commands()
            except SynthtsError as exc:  # a name taken twice: one line, also under --help
                raise click.ClickException(exc.message) from None
            root.meta["synthts.plugin_commands"] = found
        return found  # type: ignore[no-any-return]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*builtin_command_names(), *self.plugin_commands(ctx).names()])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in builtin_command_names():
            return self.plugin_commands(ctx).get(cmd_name)
        module_name = cmd_name.replace("-", "_")
        if keyword.iskeyword(module_name):
            module_name += "_"
        module = importlib.import_module(f"{COMMANDS_PACKAGE}.{module_name}")
        return module.command

    def invoke(self, ctx: click.Context) -> Any:
        install_console_log()
        try:
            return super().invoke(ctx)
        except SynthtsError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            ctx.exit(2 if isinstance(exc, BadInputError) else 1)
        except ValidationError as exc:  # a bad SYNTHTS_* setting: one line per setting
            for err in exc.errors():
                where = ", ".join(f"SYNTHTS_{str(p).upper()}" for p in err.get("loc", ())
                                  ) or "settings"
                text = str(err.get("msg", "")).removeprefix("Value error, ")
                click.secho(f"error: {where}: {text}", fg="red", err=True)
            ctx.exit(2)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="synthts")
def cli() -> None:
    """synthts: synthetic time series with GANs, end to end."""


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="synthts")
