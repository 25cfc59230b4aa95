"""``synthts jobs list|show|cancel|fail``: training jobs as storage keeps them. A running job
whose owner process is gone shows as ``stale``: resume it (``synthts train --resume ID``) or
mark it failed (``synthts jobs fail ID --reason ...``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from synthts_core.cli import cli_runtime

if TYPE_CHECKING:
    from synthts_core.domain import TrainingJob


@click.group("jobs")
def command() -> None:
    """Training jobs: list, show one, cancel one, mark a stale one failed."""


@command.command("list")
@click.option("--status", help="Only jobs with this status.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_command(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """Jobs, newest first."""
    from synthts_core.domain import to_builtins

    with cli_runtime(ctx) as rt:
        jobs = rt.services.jobs
        page = jobs.list(limit=limit, status=status)
        reasons = [jobs.stale_reason(job) for job in page.items]
    if as_json:
        data = to_builtins(page)
        for item, reason in zip(data["items"], reasons, strict=True):
            item.update(_lease(reason))
        click.echo(json.dumps(data, indent=2))
        return
    if not page.items:
        click.echo("no training jobs yet (start one with `synthts train`)")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"training jobs ({page.total})")
    for col in ("id", "dataset", "status", "progress", "trials", "model", "created"):
        table.add_column(col)
    for job, reason in zip(page.items, reasons, strict=True):
        model = f"{job.model.name}@{job.model.version}" if job.model else ""
        table.add_row(job.id, job.spec.dataset, status_text(job, reason),
                      f"{job.progress:.0%}",
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

    with cli_runtime(ctx) as rt:
        jobs = rt.services.jobs
        job = jobs.get(job_id)
        reason = jobs.stale_reason(job)
        higher = jobs.higher_is_better(job.spec.select_metric)
        cluster = jobs.cluster_text(job)
    if as_json:
        click.echo(json.dumps({**to_builtins(job), **_lease(reason)}, indent=2))
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    console.print(trials_table(job, higher))
    if job.owner is not None and job.status in ("running", "cancelling"):
        beat = job.heartbeat_at.isoformat(timespec="seconds") if job.heartbeat_at else "never"
        console.print(f"owner: pid {job.owner.pid} on {escape(job.owner.host)}, "
                      f"last heartbeat {beat}")
    if reason is not None:
        console.print(f"[red]stale[/red]: {escape(reason)}; resume it with `synthts train "
                      f"--resume {job.id}` or mark it failed with `synthts jobs fail {job.id} "
                      "--reason ...`")
    if cluster is not None:
        console.print(f"cluster: {escape(cluster)}")
    if job.model is not None:
        console.print(f"model: {job.model.name} version {job.model.version} "
                      f"(best trial {job.best_trial})")
    if job.error is not None:
        console.print(f"[red]error: {escape(job.error)}[/red]")
    history = [e for e in job.errors if e != job.error]
    if history:
        console.print("history (earlier runs and trial errors):")
        for err in history:
            console.print(f"  [yellow]{escape(err)}[/yellow]")


def status_text(job: TrainingJob, stale_reason: str | None) -> str:
    """The status to show: ``stale (running)`` when the job's owner is gone."""
    return f"stale ({job.status})" if stale_reason is not None else job.status


def _lease(stale_reason: str | None) -> dict[str, Any]:
    return {"stale": stale_reason is not None, "stale_reason": stale_reason}


@command.command("cancel")
@click.argument("job_id")
@click.pass_context
def cancel_command(ctx: click.Context, job_id: str) -> None:
    """Stop a job: queued jobs at once, running ones at their trials' next epoch."""
    with cli_runtime(ctx) as rt:
        job = rt.services.jobs.cancel(job_id)
    click.echo(f"{job.id}: {job.status}")


@command.command("fail")
@click.argument("job_id")
@click.option("--reason", required=True, help="Why (kept in the job's errors).")
@click.pass_context
def fail_command(ctx: click.Context, job_id: str, reason: str) -> None:
    """Mark a stale job (its owner process is gone) as failed; its open MLflow runs end FAILED."""
    with cli_runtime(ctx) as rt:
        job = rt.services.jobs.fail(job_id, reason)
    click.echo(f"{job.id}: {job.status} ({job.error})")


@command.command("resume")
@click.argument("job_id")
@click.option("--quiet", is_flag=True, help="No progress bars: a few plain lines and the result.")
@click.pass_context
def resume_command(ctx: click.Context, job_id: str, quiet: bool) -> None:
    """Resume a stale or failed job from its checkpoints, in this process (the same as
    `synthts train --resume JOB_ID`)."""
    from synthts_core.cli.commands.train import command as train

    ctx.invoke(train, resume_id=job_id, quiet=quiet)


from synthts_core.cli.commands._jobs_prune import prune_command  # noqa: E402 - after the group

command.add_command(prune_command)
