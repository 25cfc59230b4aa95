"""``synthts jobs prune``: delete the Ray experiment folders of old finished jobs."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from synthts_core.cli import cli_runtime


@click.command("prune")
@click.option("--keep", type=click.IntRange(min=0), default=None,
              help="Finished jobs (most recent first) whose folders stay "
              "[default: SYNTHTS_JOB_RETENTION].")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted, delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def prune_command(ctx: click.Context, keep: int | None, dry_run: bool, as_json: bool) -> None:
    """Delete the Ray experiment folders (Tune state and checkpoints) of finished jobs beyond
    the most recent KEEP. Queued, running and stale jobs and registered models (in MLflow) are
    never touched; a pruned job cannot be resumed, and its record says so."""
    from synthts_core.domain import human_bytes

    with cli_runtime(ctx) as rt:
        items = rt.services.jobs.prune(keep, dry_run=dry_run)
    total = sum(i.bytes for i in items)
    failed = [i for i in items if i.error is not None]
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "bytes": total,
                               "folders": [asdict(i) for i in items]}, indent=2))
    else:
        verb = "would delete" if dry_run else "deleted"
        for i in items:
            if i.error is None:
                click.echo(f"{verb} {i.path} ({i.job_id}, {i.status} {i.finished_at}, "
                           f"{human_bytes(i.bytes)})")
            else:
                click.echo(f"could not delete all of {i.path} ({i.job_id}): {i.error}; the job "
                           "is marked not resumable", err=True)
        click.echo(f"{verb} {len(items) - len(failed)} experiment folder(s), "
                   f"{human_bytes(total)}")
    if failed:
        ctx.exit(1)
