"""``synthts import``: a CSV, Parquet, JSON or .npy file cut into windows and stored."""

from __future__ import annotations

import json

import click


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="Dataset name.")
@click.option("--window", type=int, required=True, help="Points per series (window length).")
@click.option("--stride", type=int, help="Points between window starts (default: window).")
@click.option("--columns", help="Comma-separated value columns (default: every numeric one).")
@click.option("--label-column", help="Column holding the class label of each row.")
@click.option("--normalise", type=click.Choice(["zscore", "minmax", "none"]), default="zscore",
              show_default=True, help="Per-channel normalisation (recorded to map back).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "npy", "json"]),
              help="File format (default: from the suffix).")
@click.option("--json", "as_json", is_flag=True, help="Print the stored metadata as JSON.")
def command(file: str, name: str, window: int, stride: int | None, columns: str | None,
            label_column: str | None, normalise: str, fmt: str | None, as_json: bool) -> None:
    """Import real series from a table and store them as a dataset."""
    from synthts_core.domain import to_builtins
    from synthts_core.runtime import Runtime
    from synthts_core.services.importing import import_table

    cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    dataset = import_table(file, fmt, name=name, columns=cols, label_column=label_column,
                           window=window, stride=stride, normalise=normalise)
    with Runtime() as rt:
        meta = rt.storage.create_dataset(dataset)
    if as_json:
        click.echo(json.dumps(to_builtins(meta)))
        return
    click.echo(f"stored {meta.name}: {meta.n_series} x {meta.n_channels} x {meta.length} "
               f"({len(meta.label_names)} labels), {meta.normalisation.method} normalisation, "
               f"{meta.checksum}")
