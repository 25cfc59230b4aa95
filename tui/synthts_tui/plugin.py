"""Entry point of the TUI plugin: ``synthts tui`` (the terminal UI, a client of the HTTP API),
added through ``register_commands``. Only click is imported here; the UI loads when the command
runs, so listing commands stays light."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from synthts_core import hookimpl

if TYPE_CHECKING:
    from synthts_core.registry import CommandRegistry


def _log_to_file(path: str) -> None:
    """Send logging to a file: a handler writing to the terminal would tear up the screen."""
    import logging

    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("httpx", "mlflow", "ray", "uvicorn", "alembic"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True


@click.command("tui")
@click.option("--api", "api_url", metavar="URL", default=None,
              help="API to talk to (default: SYNTHTS_API_URL, else start one in-process on "
                   "the embedded defaults).")
@click.option("--token", default=None, help="Bearer token for writes (default: SYNTHTS_API_TOKEN).")
def command(api_url: str | None, token: str | None) -> None:
    """Open the terminal UI: generate, browse, train, sample from models, evaluate."""
    from synthts_core.settings import Settings

    settings = Settings()
    api_url = api_url or settings.api_url
    if token is None and settings.api_token is not None:
        token = settings.api_token.get_secret_value() or None

    from synthts_tui.app import SynthtsApp
    from synthts_tui.client import SynthtsClient

    local = None
    if api_url is None:
        from synthts_tui.local_api import LocalApi

        log_file = settings.ensure_data_dir() / "tui-api.log"
        click.echo(f"starting a local synthts API on the embedded defaults "
                   f"(data: {settings.data_dir}, log: {log_file})...", err=True)
        _log_to_file(str(log_file))
        local = LocalApi(settings).start()
        _log_to_file(str(log_file))  # again: libraries imported at start add their handlers
        api_url = local.url
    try:
        with SynthtsClient(api_url, token=token) as client:
            SynthtsApp(client).run()
    finally:
        if local is not None:
            local.stop()


@hookimpl
def register_commands(registry: CommandRegistry) -> None:
    registry.add(command)
