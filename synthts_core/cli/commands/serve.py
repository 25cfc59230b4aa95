"""``synthts serve``: the HTTP API under uvicorn."""

from __future__ import annotations

import ipaddress

import click


def is_loopback(host: str) -> bool:
    """``localhost`` and loopback addresses; anything else (incl. 0.0.0.0) is reachable."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--host", default=None, help="Address to bind (default SYNTHTS_API_HOST, "
              "127.0.0.1). A non-loopback address needs SYNTHTS_API_TOKEN.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port (default SYNTHTS_API_PORT, 8000).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def command(host: str | None, port: int | None, reload: bool, log_level: str) -> None:
    """Serve the HTTP API (OpenAPI docs at /schema)."""
    from synthts_core.settings import Settings

    settings = Settings()
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not is_loopback(host) and not token:
        click.secho(f"error: refusing to bind {host}: it is reachable from other machines and "
                    "no SYNTHTS_API_TOKEN is set; set a token (writes then need "
                    "'Authorization: Bearer <token>') or bind 127.0.0.1", fg="red", err=True)
        raise SystemExit(2)
    import logging

    import uvicorn

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(f"synthts API on http://{host}:{port} (docs: /schema, data: {settings.data_dir})")
    if reload:
        uvicorn.run("synthts_core.api.app:create_app", factory=True, host=host, port=port,
                    reload=True, log_level=log_level)
    else:
        from synthts_core.api import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
