"""``synthts train``: run a model search on Ray Tune with a live view of its trials (progress bars
on a terminal, a few plain lines otherwise) and a summary table at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from synthts_core import job_form
from synthts_core.cli import cli_runtime

if TYPE_CHECKING:
    from synthts_core.domain import TrainingJob
    from synthts_core.services.jobs import JobService


def parse_set(items: tuple[str, ...]) -> dict[str, Any]:
    """``name=value`` pairs; the value is JSON when it parses (numbers, lists, ranges as
    ``{"low": a, "high": b}``), else a string."""
    from synthts_core.errors import BadInputError

    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise BadInputError("--set", f"got {item!r}", allowed="name=value")
        try:
            out[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[name.strip()] = raw
    return out


def load_job_file(path: Path) -> dict[str, Any]:
    """A job spec from TOML or JSON (same fields as the API's JobSpec)."""
    from synthts_core.errors import BadInputError

    text = path.read_text()
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            return tomllib.loads(text)
        return json.loads(text)
    except (ValueError, json.JSONDecodeError) as exc:
        raise BadInputError("--job", f"{path} is not valid {path.suffix[1:] or 'JSON'}: {exc}",
                            allowed="a TOML or JSON job spec") from None


class FormInt(click.IntRange):
    """An integer option bounded by the job form (``synthts_core.job_form``): its range shows in
    ``--help``, and a value outside it is the service's own error, naming the field."""

    def __init__(self, field: str) -> None:
        super().__init__(*job_form.bounds(field))
        self.field = field

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        number = click.INT.convert(value, param, ctx)  # not a number: click's usage error
        job_form.check(self.field, number)
        return number


def trials_table(job: TrainingJob, higher_is_better: bool) -> Any:
    """One row per trial: status, epochs, the architecture parameters that differ between the
    trials, the metric at its last scored epoch and at its best, and the score on fresh samples
    that picked the winner; ``*`` marks the trial that was registered."""
    from rich.table import Table

    metric = job.spec.select_metric
    varying = differing_params(job)
    table = Table(title=f"{job.id} [{job.status}] {job.progress:.0%} on {job.spec.dataset}")
    for col in ("trial", "architecture", *(["params"] if varying else []), "status", "epoch",
                metric, f"best {metric}", "fresh (picked)", "error"):
        table.add_column(col)
    for t in job.trials:
        seen = [h[metric] for h in t.history if isinstance(h.get(metric), int | float)]
        value = t.metrics.get(metric, seen[-1] if seen else None)
        best = (max if higher_is_better else min)(seen) if seen else None
        trial = f"{t.trial_id} *" if t.trial_id == job.best_trial else t.trial_id
        params = [" ".join(f"{k}={_value_text(t.config[k])}" for k in varying
                           if k in t.config)] if varying else []
        table.add_row(trial, t.architecture, *params, t.status,
                      f"{t.epoch}/{t.epochs}", "" if value is None else f"{value:.4g}",
                      "" if best is None else f"{best:.4g}",
                      "" if t.selection_score is None else f"{t.selection_score:.4g}",
                      f"[red]{t.error}[/red]" if t.error else "")
    if job.best_trial:
        table.caption = (f"* the registered trial ({job.best_trial}): each trial's best "
                         f"checkpoint was scored again on fresh samples ({metric}, worst class)")
    return table


def differing_params(job: TrainingJob) -> list[str]:
    """The architecture parameters whose values are not the same in every trial (in the
    order the trials name them): what tells the trials apart."""
    names = list(dict.fromkeys(k for t in job.trials for k in t.config))
    return [k for k in names
            if len({json.dumps(t.config.get(k), sort_keys=True, default=str)
                    for t in job.trials}) > 1]


def _value_text(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@click.command("train")
@click.option("--dataset", help="Dataset to learn.")
@click.option("--job", "job_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Job spec file (.toml or .json); flags override its fields.")
@click.option("--arch", "architectures", multiple=True, help="Architecture (repeatable; default: "
              "the ones whose plugins declare a search space for this data, each with it: "
              "cwgan_gp and diffusion on a labelled set, wgan_gp and diffusion otherwise; with "
              "--set dp_epsilon=E, those that train privately; on a dataset with missing "
              "points or unequal lengths, those that learn from them).")
@click.option("--label", "labels", multiple=True, help="Train on these labels only.")
@click.option("--trials", "num_trials", type=FormInt("num_trials"), help="Number of trials.")
@click.option("--epochs", type=FormInt("epochs"), help="Epochs per trial (default: sized for the "
              "data, the updates a trial each family declares: about 2000, diffusion 5000).")
@click.option("--metric", "select_metric", help="Quality metric that picks the best trial.")
@click.option("--model-name", help="Registered model name (default: DATASET-FAMILY, e.g. "
              "DATASET-gan or DATASET-diffusion; DATASET-model for a search over families).")
@click.option("--seed", type=FormInt("seed"), help="Seed of the trial draw and the trainings.")
@click.option("--max-concurrent", type=FormInt("max_concurrent"), help="Trials running at once.")
@click.option("--time-limit", "time_limit_s", type=FormInt("time_limit_s"), metavar="SECONDS",
              help="Stop the job after this many seconds (it fails; the best trial so far "
              "is registered).")
@click.option("--set", "settings", multiple=True, metavar="PARAM=VALUE",
              help="Search-space entry: a value, a JSON list (random choice) or "
              '{"low": a, "high": b} (repeatable).')
@click.option("--resume", "resume_id", metavar="JOB_ID", help="Resume an interrupted job.")
@click.option("--quiet", is_flag=True,
              help="No progress bars and no summary table: a few plain lines and the result.")
@click.pass_context
def command(ctx: click.Context, dataset: str | None, job_file: Path | None,
            architectures: tuple[str, ...], labels: tuple[str, ...], num_trials: int | None,
            epochs: int | None, select_metric: str | None, model_name: str | None,
            seed: int | None, max_concurrent: int | None, time_limit_s: int | None,
            settings: tuple[str, ...], resume_id: str | None, quiet: bool) -> None:
    """Run a hyper-parameter search of generative models on a dataset and register the best model."""
    from synthts_core.errors import BadInputError
    from synthts_core.services.training import JobInterrupted

    with cli_runtime(ctx) as rt:
        jobs = rt.services.jobs
        if resume_id:
            job_id = resume_id  # refused by the service if finished or owned by a live process
        else:
            overrides = {"dataset": dataset, "architectures": list(architectures) or None,
                         "labels": list(labels) or None, "num_trials": num_trials,
                         "epochs": epochs, "select_metric": select_metric,
                         "model_name": model_name, "seed": seed,
                         "max_concurrent": max_concurrent, "time_limit_s": time_limit_s,
                         "search_space": parse_set(settings)}
            fields = load_job_file(job_file) if job_file else {}
            if not (dataset or fields.get("dataset")):
                raise BadInputError("--dataset", "is required", allowed="a dataset name "
                                    "(or a --job file naming one)")
            job = jobs.submit(jobs.spec(fields, overrides))
            job_id = job.id
            click.echo(f"submitted {job.id} ({len(job.trials)} trials)")
        try:
            final = _run_live(jobs, job_id, resume=bool(resume_id), quiet=quiet)
        except JobInterrupted as exc:  # a second signal: the job is recorded
            click.secho(f"job {job_id} cancelled ({exc})", fg="red", err=True)
            ctx.exit(130)
    if final.model is not None:
        click.echo(f"registered {final.model.name} version {final.model.version} "
                   f"(alias best, {final.spec.select_metric}="
                   f"{final.model.metrics.get(final.spec.select_metric, float('nan')):.4g}, "
                   f"trial {final.best_trial})")
    history = [e for e in final.errors if e != final.error]
    if history:  # trial errors and earlier runs: the job's current state is below
        click.secho("history:", fg="yellow", err=True)
    for err in history:
        click.secho(f"  {err}", fg="yellow", err=True)
    if final.status != "succeeded":
        reason = f": {final.error}" if final.error else ""
        click.secho(f"job {final.id} {final.status}{reason}", fg="red", err=True)
        ctx.exit(1)


def _run_live(jobs: JobService, job_id: str, *, resume: bool, quiet: bool) -> TrainingJob:
    """Bars on a terminal, plain lines elsewhere or with ``--quiet``; then the summary."""
    from rich.console import Console

    from synthts_core.cli.training_view import TrainingView

    console = Console()
    with TrainingView(live=False if quiet else None, console=console) as view:
        if resume:
            final = jobs.resume(job_id, on_progress=view)
        else:
            final = jobs.run(job_id, on_progress=view)
    if not quiet:
        table = trials_table(final, jobs.higher_is_better(final.spec.select_metric))
        if console.is_terminal:
            console.print(table)
        else:  # as plain text: no terminal width to wrap to, no colour codes in logs
            click.echo(plain_text(table))
    return final


def plain_text(renderable: Any) -> str:
    """A rich table as plain text (no colour codes, a fixed width) for pipes and logs."""
    from rich.console import Console

    console = Console(width=160, no_color=True, color_system=None, force_terminal=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get().rstrip()
