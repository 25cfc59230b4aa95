"""``synthts demo``: the main job end to end, with live training progress on a terminal."""

from __future__ import annotations

from pathlib import Path

import click

from synthts_core.job_form import bounds


@click.command("demo")
@click.option("--full", is_flag=True,
              help="The seed's full size: 10 classes x 1000 series x 1024 points.")
@click.option("--count", type=click.IntRange(1, 100_000), default=None,
              help="Series per class (default 200; 1000 with --full).")
@click.option("--length", type=click.IntRange(8, 65_536), default=None,
              help="Points per series (default 256; 1024 with --full).")
@click.option("--trials", type=click.IntRange(*bounds("num_trials")), default=4,
              show_default=True)
@click.option("--epochs", type=click.IntRange(*bounds("epochs")), default=None,
              help="Epochs per trial (default: what each architecture declares for the main "
                   "job: 250 for the GAN, 60 for diffusion, whose epochs and samples cost more).")
@click.option("--arch", "architectures", multiple=True,
              help="Model architectures to search over (repeatable; default: every one that "
                   "declares a main-job search space, the trials dealt round-robin).")
@click.option("--metric", default=None,
              help="Quality metric that picks the best trial, its worst class (default: the "
                   "one that gives the verdict).")
@click.option("--metrics", default=None,
              help="Comma-separated metrics to evaluate (default: the verdict's metric first, "
                   "then the main job's usual set; the costly classifiers pooled only).")
@click.option("--seed", type=click.IntRange(*bounds("seed")), default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out"), show_default=True, help="Folder for report.html.")
@click.option("--quiet", is_flag=True,
              help="No progress bars and no trial table: a few plain lines per trial.")
def command(full: bool, count: int | None, length: int | None, trials: int,
            epochs: int | None,
            architectures: tuple[str, ...], metric: str | None, metrics: str | None, seed: int,
            out_dir: Path, quiet: bool) -> None:
    """Run the main job: generate -> store -> train -> register -> generate -> evaluate -> plot.

    Uses the embedded defaults unless settings say otherwise (see `synthts config`).
    """
    from synthts_core.cli.commands.train import plain_text, trials_table
    from synthts_core.cli.training_view import TrainingView, ViewLog
    from synthts_core.runtime import Runtime
    from synthts_core.services.main_job import MainJobOptions

    base = MainJobOptions.full() if full else MainJobOptions()
    opts = MainJobOptions(
        count=count if count is not None else base.count,
        length=length if length is not None else base.length,
        trials=trials, epochs=epochs, architectures=tuple(architectures), metric=metric,
        seed=seed, out_dir=out_dir,
    )
    if metrics:
        opts.metrics = tuple(m.strip() for m in metrics.split(",") if m.strip())
    with Runtime() as rt, TrainingView(live=None if not quiet else False) as view:
        click.echo(f"storage: {rt.settings.storage_uri}")
        result = rt.services.jobs.run_main_job(opts, log=ViewLog(view))
        if not quiet:
            table = trials_table(result.job, rt.services.jobs.higher_is_better(
                result.job.spec.select_metric))
            if view.console.is_terminal:
                view.console.print(table)
            else:
                click.echo(plain_text(table))
    click.echo("timings (s): " + ", ".join(f"{k}={v}" for k, v in result.timings.items()))
