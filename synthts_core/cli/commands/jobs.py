"""``synthts jobs list|show|cancel``: training jobs as storage keeps them."""

from __future__ import annotations

import json

import click

from synthts_core.cli import cli_runtime


@click.group("jobs")
def command() -> None:
    """Training jobs: list, show one, cancel one."""


@command.command("list")
@click.option("--status", help="Only jobs with this status.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_command(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """Jobs, newest first."""
    from synthts_core.domain import to_builtins
    from synthts_core.services import training

    with cli_runtime(ctx) as rt:
        page = training.list_jobs(rt, limit=limit, status=status)
    if as_json:
        click.echo(json.dumps(to_builtins(page), indent=2))
        return
    if not page.items:
        click.echo("no training jobs yet (start one with `synthts train`)")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"training jobs ({page.total})")
    for col in ("id", "dataset", "status", "progress", "trials", "model", "created"):
        table.add_column(col)
    for job in page.items:
        model = f"{job.model.name}@{job.model.version}" if job.model else ""
        table.add_row(job.id, job.spec.dataset, job.status, f"{job.progress:.0%}",
                      str(len(job.trials)), model, job.created_at.strftime("%Y-%m-%d %H:%M"))
    Console().print(table)


@command.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_command(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """One job with its trials, metrics and errors."""
    from synthts_core.cli.commands.train import trials_table
    from synthts_core.domain import to_builtins
    from synthts_core.services import training

    with cli_runtime(ctx) as rt:
        job = training.get_job(rt, job_id)
    if as_json:
        click.echo(json.dumps(to_builtins(job), indent=2))
        return
    from rich.console import Console

    console = Console()
    console.print(trials_table(job))
    if job.model is not None:
        console.print(f"model: {job.model.name} version {job.model.version} "
                      f"(best trial {job.best_trial})")
    for err in job.errors:
        console.print(f"[yellow]{err}[/yellow]")


@command.command("cancel")
@click.argument("job_id")
@click.pass_context
def cancel_command(ctx: click.Context, job_id: str) -> None:
    """Stop a job: queued jobs at once, running ones at their trials' next epoch."""
    from synthts_core.services import training

    with cli_runtime(ctx) as rt:
        job = training.cancel_job(rt, job_id)
    click.echo(f"{job.id}: {job.status}")
