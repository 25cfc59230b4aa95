from __future__ import annotations

import json

import click

from synthts_core.cli import cli_runtime


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(show_all: bool, as_json: bool) -> None:
    """List plugins with version, hooks, what each registered, and load errors."""
    with cli_runtime(click.get_current_context()) as rt:
        infos = rt.services.catalogue.plugins(builtin=show_all)
    if as_json:
        click.echo(json.dumps([i.to_json() for i in infos], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="synthts plugins" + ("" if show_all else " (use --all for built-ins)"))
    for col in ("plugin", "distribution", "version", "hooks", "registered", "error"):
        table.add_column(col)
    for i in infos:
        registered = "\n".join(f"{k}: {', '.join(v)}" for k, v in i.registered.items())
        table.add_row(i.name, i.distribution or "", i.version or "",
                      "\n".join(h.removeprefix("register_") for h in i.hooks), registered,
                      f"[red]{i.error}[/red]" if i.error else "")
    Console().print(table)
