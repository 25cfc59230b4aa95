"""``synthts import``: real series from a table, an array file or a ``.ts`` file, stored as a
dataset through the same import path (and defaults) as ``POST /datasets/upload``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from synthts_core.cli import cli_runtime


def _split(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _declared_flags(command: Callable[..., None]) -> Callable[..., None]:
    """A flag for every option ``ImportOptions`` declares, with its type, default, choices and
    help (``services.importing.options``: the upload endpoint takes the same options)."""
    from synthts_core.services.importing.options import declared_options

    for opt in reversed(declared_options()):
        flag = opt.cli if opt.cli and opt.cli.startswith("--") else \
            "--" + opt.name.replace("_", "-")
        kwargs: dict[str, Any] = {"help": opt.cli_help}
        if opt.kind == "list":
            kwargs["help"] += " Comma-separated." if opt.cli == "comma" else " Repeatable."
            kwargs["multiple"] = opt.cli != "comma"
        elif opt.choices is not None:
            kwargs["type"] = click.Choice(opt.choices)
        elif opt.kind in ("int", "float"):
            kwargs["type"] = int if opt.kind == "int" else float
        if opt.required:
            kwargs["required"] = True
        elif opt.kind != "list":  # a list's default is its absence (comma) or no repeat
            kwargs.update(default=opt.default, show_default=opt.default not in (None, ""))
        command = click.option(flag, opt.name, **kwargs)(command)
    return command


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_declared_flags
@click.option("--holdout-file", "holdout_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False), help="Real series to keep out of "
              "training (e.g. an archive's TEST file; repeatable), read like FILES and "
              "appended: evaluations score TSTR and the memorisation guard against them.")
@click.option("--dry-run", is_flag=True, help="Print what would be stored; store nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report (and metadata) as JSON.")
@click.pass_context
def command(ctx: click.Context, files: tuple[str, ...], holdout_files: tuple[str, ...],
            dry_run: bool, as_json: bool, **given: Any) -> None:
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

    given["columns"] = _split(given["columns"])
    given["tags"] = list(given["tags"])
    options = ImportOptions(**given)
    name = options.name
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
