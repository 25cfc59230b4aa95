"""``synthts models list|show``: browse the model registry."""

from __future__ import annotations

import json
from typing import Any

import click

from synthts_core.cli import cli_runtime


@click.group("models")
def command() -> None:
    """Registered models: list them, show one version."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Every registered model with its number of versions, aliases and latest version."""
    from synthts_core.domain import to_builtins

    with cli_runtime(ctx) as rt:
        rows = rt.services.models.list()
    if as_json:
        click.echo(json.dumps(to_builtins(rows), indent=2))
        return
    if not rows:
        click.echo("no registered models yet (train one with `synthts train`)")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="registered models")
    for col in ("name", "versions", "aliases", "latest", "description"):
        table.add_column(col)
    for m in rows:
        aliases = ", ".join(f"{a}->v{v}" for a, v in sorted(m.aliases.items()))
        table.add_row(m.name, str(m.n_versions), aliases, m.latest_version or "", m.description)
    Console(width=max(100, Console().width)).print(table)


@command.command("show")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_command(ctx: click.Context, model: str, as_json: bool) -> None:
    """One version: MODEL is NAME, NAME@VERSION or NAME@ALIAS (default: latest)."""
    from synthts_core.domain import to_builtins
    from synthts_core.services.models import version_gaps, version_privacy

    with cli_runtime(ctx) as rt:
        ref = rt.services.models.show(model)
    data: dict[str, Any] = to_builtins(ref)
    data["dataset"] = _dataset(ref.config)
    data["privacy"], privacy_line = version_privacy(ref.config)  # None: trained without DP
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{ref.name} version {ref.version}  ({ref.architecture or 'unknown architecture'})")
    click.echo(f"  aliases:  {', '.join(ref.aliases) or '-'}")
    click.echo(f"  created:  {data.get('created_at') or '-'}")
    click.echo(f"  run:      {ref.run_id or '-'}")
    ds = data["dataset"]
    click.echo(f"  dataset:  {ds['name'] or '-'} {ds['checksum']}".rstrip())
    click.echo(f"  privacy:  {privacy_line}")
    config, gaps_line = version_gaps(ref.config)
    click.echo(f"  gaps:     {gaps_line}")
    click.echo("  metrics:")
    for key, value in sorted(ref.metrics.items()):
        click.echo(f"    {key:<24} {value:.6g}")
    click.echo("  config:")
    for line in json.dumps(config, indent=2, sort_keys=True).splitlines():
        click.echo(f"    {line}")


def _dataset(config: dict[str, Any]) -> dict[str, str]:
    dataset = config.get("dataset")
    if isinstance(dataset, dict):
        return {"name": str(dataset.get("name", "")), "checksum": str(dataset.get("checksum", ""))}
    return {"name": str(dataset or ""), "checksum": str(config.get("dataset_checksum", ""))}
