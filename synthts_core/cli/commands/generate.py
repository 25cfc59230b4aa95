"""``synthts generate``: a preset or a spec file (TOML/JSON) to a stored dataset."""

from __future__ import annotations

import json
import time

import click

from synthts_core.cli import cli_runtime

PROGRESS_THRESHOLD = 2_000_000  # values; smaller sets finish before a bar would be seen


@click.command("generate")
@click.option("--preset", help="Preset name (e.g. harmonics10, sines).")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False),
              help="Dataset spec file (.toml or .json).")
@click.option("--name", help="Dataset name (default: the spec's).")
@click.option("--seed", type=int, help="Random seed (same spec + seed = same values).")
@click.option("--count", type=int, help="Series per class.")
@click.option("--length", type=int, help="Points per series.")
@click.option("--engine", help="Generator engine: vectorised (default) or one a signal "
              "plugin adds to its generators (GET /api/v1/signals lists each one's engines).")
@click.option("--json", "as_json", is_flag=True, help="Print the stored metadata as JSON.")
def command(preset: str | None, spec_file: str | None, name: str | None, seed: int | None,
            count: int | None, length: int | None, engine: str | None, as_json: bool) -> None:
    """Generate a dataset and store it in the configured storage (SYNTHTS_STORAGE)."""
    from synthts_core.domain import to_builtins
    from synthts_core.errors import BadInputError

    if (preset is None) == (spec_file is None):
        raise BadInputError("--preset/--spec", "give exactly one",
                            allowed="--preset NAME or --spec FILE")
    with cli_runtime(click.get_current_context()) as rt:
        datasets = rt.services.datasets
        overrides = {"name": name, "seed": seed, "count": count, "length": length,
                     "engine": engine}
        if preset is not None:
            spec = datasets.spec_from_preset(preset, **overrides)
        else:
            spec = datasets.spec_from_file(spec_file, **overrides)
        n_values = sum(c.count for c in spec.classes) * spec.n_channels * spec.length
        started = time.perf_counter()
        large = n_values >= PROGRESS_THRESHOLD
        if large and not as_json and _terminal():
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn

            with Progress("[progress.description]{task.description}", BarColumn(),
                          TaskProgressColumn(), TimeElapsedColumn(), transient=True) as bar:
                task = bar.add_task(f"generating {spec.name}", total=None)
                dataset = datasets.build(
                    spec, lambda done, total: bar.update(task, completed=done, total=total))
                generated = time.perf_counter() - started
                bar.update(task, description=f"storing {spec.name}", completed=0, total=None)
                meta = datasets.store(dataset)
        else:
            # a pipe or a log: a line every quarter on stderr (stdout stays the result / JSON)
            dataset = datasets.build(spec, _quarter_lines(spec.name) if large else None)
            generated = time.perf_counter() - started
            if large:
                click.echo(f"storing {spec.name} ...", err=True)
            meta = datasets.store(dataset)
        stored = time.perf_counter() - started - generated
    if as_json:
        click.echo(json.dumps(to_builtins(meta)))
        return
    shape = f"{meta.n_series} x {meta.n_channels} x {meta.length}"
    click.echo(f"stored {meta.name}: {shape} ({len(meta.label_names)} classes), "
               f"{meta.checksum}")
    click.echo(f"generated in {generated:.2f} s, stored in {stored:.2f} s")


def _terminal() -> bool:
    from rich.console import Console

    return Console(stderr=True).is_terminal


def _quarter_lines(name: str):  # -> Callable[[int, int], None]
    """``progress(done, total)`` that prints ``generating NAME: 50% (500/1000 series)`` as each
    quarter is passed."""
    shown = [0]

    def progress(done: int, total: int) -> None:
        quarter = 4 * done // max(total, 1)
        if quarter > shown[0]:
            shown[0] = quarter
            click.echo(f"generating {name}: {25 * quarter}% ({done}/{total} series)", err=True)

    return progress
