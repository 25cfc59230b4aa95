"""``synthts import``: real series from a table, an array file or a ``.ts`` file, stored as a
dataset through the same import path (and defaults) as ``POST /datasets/upload``."""

from __future__ import annotations

import json

import click

from synthts_core.cli import cli_runtime


def _split(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="Dataset name.")
@click.option("--layout", type=click.Choice(["auto", "long", "wide"]), default="auto",
              show_default=True, help="Tables: long = one row per time point, wide = one row "
              "per series (UCR style). auto: long when --window or --time-column is given, "
              "else wide; tables written by `datasets export` are recognised.")
@click.option("--window", type=int, help="Cut series into windows of this many points "
              "(long tables: default one series per recording and label run).")
@click.option("--stride", type=int, help="Points between window starts (default: window).")
@click.option("--columns", help="Comma-separated value columns (default: every numeric column "
              "without a role; a column named like an id or a time is refused).")
@click.option("--label-column", help="Column holding the class label.")
@click.option("--series-column", help="Long tables: recording id (windows never span two).")
@click.option("--time-column", help="Long tables: time of each row (rows are sorted by it).")
@click.option("--channel-column", help="Channel of each row (long: with one value column; "
              "wide: one row per series and channel).")
@click.option("--normalise", type=click.Choice(["zscore", "minmax", "none"]), default="zscore",
              show_default=True, help="Per-channel normalisation recorded beside the "
              "values, which are stored as given (reads with --units normalised apply it).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json", "npy", "npz", "ts"]),
              help="File format (default: from the suffix).")
@click.option("--holdout-file", "holdout_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False), help="Real series to keep out of "
              "training (e.g. an archive's TEST file; repeatable), read like FILES and "
              "appended: evaluations score TSTR and the memorisation guard against them.")
@click.option("--holdout", type=float, help="Keep this fraction of each class out of training "
              "(stratified, drawn with --holdout-seed, recorded with the dataset).")
@click.option("--holdout-seed", type=int, default=0, show_default=True,
              help="Seed of the --holdout draw.")
@click.option("--tag", "tags", multiple=True, help="Tag of the dataset (repeatable).")
@click.option("--dry-run", is_flag=True, help="Print what would be stored; store nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report (and metadata) as JSON.")
@click.pass_context
def command(ctx: click.Context, files: tuple[str, ...], name: str, layout: str,
            window: int | None, stride: int | None, columns: str | None,
            label_column: str | None, series_column: str | None, time_column: str | None,
            channel_column: str | None, normalise: str, fmt: str | None,
            holdout_files: tuple[str, ...], holdout: float | None, holdout_seed: int,
            tags: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Import real series from FILES (several wide tables: one file per channel; several
    array or .ts files: their series appended, e.g. an archive's TRAIN and TEST files).

    \b
    One series per row (UCR/UEA style), labels in a column:
      synthts import train.csv --name ecg --label-column label
    One row per time point, several recordings:
      synthts import log.csv --name plant --series-column run --time-column t --window 128
    An archive's TEST file kept out of training (or --holdout 0.2 for a random fifth):
      synthts import GunPoint_TRAIN.ts --holdout-file GunPoint_TEST.ts --name gunpoint
    """
    import msgspec

    from synthts_core.domain import lengths_text, missing_text, to_builtins
    from synthts_core.services.importing import ImportOptions

    options = ImportOptions(
        name=name, format=fmt, layout=layout, columns=_split(columns),  # type: ignore[arg-type]
        label_column=label_column, series_column=series_column, time_column=time_column,
        channel_column=channel_column, window=window, stride=stride,
        normalise=normalise, tags=list(tags), holdout=holdout,  # type: ignore[arg-type]
        holdout_seed=holdout_seed)
    sources = list(files) if len(files) > 1 else files[0]
    with cli_runtime(ctx) as rt:
        datasets = rt.services.datasets
        with _stage(f"reading {_describe(files + holdout_files)}", quiet=as_json):
            result = datasets.parse(sources, options,
                                    holdout_sources=list(holdout_files) or None)
        report = result.report
        if dry_run:
            if as_json:
                click.echo(msgspec.json.encode(report).decode())
            else:
                click.echo("dry run, nothing stored:")
                for line in report.lines():
                    click.echo(line)
            return
        shape = result.dataset.values.shape
        with _stage(f"storing {name}: {shape[0]} series x {shape[1]} channel(s) x {shape[2]} "
                    "points", quiet=as_json):
            meta = datasets.store(result.dataset)
    if as_json:
        click.echo(json.dumps({**to_builtins(meta), "import": msgspec.to_builtins(report)}))
        return
    click.echo(f"stored {meta.name}: {meta.n_series} x {meta.n_channels} x {meta.length} "
               f"({len(meta.label_names)} labels), {meta.normalisation.method} normalisation, "
               f"{meta.checksum}")
    if report.min_length is not None:  # series of different lengths, stored as they are
        click.echo(lengths_text(report.min_length, report.length, report.median_length))
    if meta.n_missing:
        click.echo(f"missing: {missing_text(meta.n_missing, meta.n_own_values)}, kept as missing "
                   "(never filled in)")
    if meta.holdout is not None:
        click.echo(f"held out of training: {meta.n_holdout} series "
                   f"({meta.holdout.describe()})")
    for d in report.dropped:
        click.echo(f"warning: dropped {d.rows} rows: {d.why}", err=True)


def _describe(files: tuple[str, ...]) -> str:
    from pathlib import Path

    size = sum(Path(f).stat().st_size for f in files if Path(f).is_file())
    names = ", ".join(Path(f).name for f in files[:3]) + (" ..." if len(files) > 3 else "")
    return f"{names} ({size / 2**20:.1f} MiB)"


class _stage:
    """Progress for the two long steps of an import: a spinner with the elapsed time on a
    terminal, one line on stderr before and after each step otherwise (never on stdout, which
    ``--json`` keeps machine-readable)."""

    def __init__(self, what: str, *, quiet: bool = False) -> None:
        self.what, self.quiet = what, quiet

    def __enter__(self) -> None:
        import sys
        import time

        self.t0 = time.perf_counter()
        self.status = None
        if sys.stderr.isatty() and not self.quiet:
            from rich.console import Console

            self.status = Console(stderr=True).status(f"{self.what} ...")
            self.status.__enter__()
        elif not self.quiet:
            click.echo(f"{self.what} ...", err=True)

    def __exit__(self, *exc: object) -> None:
        import time

        if self.status is not None:
            self.status.__exit__(*exc)
        if exc[0] is None and not self.quiet:
            click.echo(f"{self.what}: done in {time.perf_counter() - self.t0:.1f} s", err=True)
