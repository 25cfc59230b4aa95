from __future__ import annotations

import json

import click


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--no-check", is_flag=True,
              help="Only print the settings; do not check the Ray cluster.")
def command(as_json: bool, no_check: bool) -> None:
    """Print the effective settings (secrets masked), then check the Ray cluster they name
    as /ready does: that it answers, takes this token (or none), and has a node that holds
    one trial. Exits 1 when the check fails, saying why."""
    from synthts_core.services.cluster import ready_check
    from synthts_core.settings import Settings

    settings = Settings()
    values = settings.masked()
    check = None if no_check else ready_check(settings)
    if as_json:
        if check is not None:
            ok, target, detail = check
            values["checks"] = {"ray": {"ok": ok, "target": target, "detail": detail}}
        click.echo(json.dumps(values, indent=2, default=str))
    else:
        width = max(len(k) for k in values)
        for key, value in values.items():
            click.echo(f"{key:<{width}}  {value}")
        if check is not None:
            ok, target, detail = check
            click.echo(f"\nray check ({target}): {'ok' if ok else 'FAILED'}: {detail}")
    if check is not None and not check[0]:
        click.get_current_context().exit(1)
