"""``synthts datasets``: list, inspect, export and delete stored datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from synthts_core.cli import cli_runtime
from synthts_core.domain import DATASET_SORTS, human_bytes, lengths_text, missing_text
from synthts_core.services.datasets import EXPORT_FORMATS, EXPORT_LAYOUTS


@click.group("datasets")
def command() -> None:
    """Stored datasets: list, show, export, delete."""


@command.command("list")
@click.option("--name", "name_contains", help="Only names containing this text.")
@click.option("--tag", "tags", multiple=True, help="Only datasets with this tag (repeatable).")
@click.option("--generator", help="Only datasets made with this signal generator.")
@click.option("--label", help="Only datasets with this label.")
@click.option("--sort", type=click.Choice(DATASET_SORTS), default="-created_at", show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(name_contains: str | None, tags: tuple[str, ...], generator: str | None,
                 label: str | None, sort: str, offset: int, limit: int, as_json: bool) -> None:
    """List datasets, newest first."""
    from synthts_core.domain import DatasetQuery, to_builtins

    query = DatasetQuery(offset=offset, limit=limit, sort=sort, name_contains=name_contains,
                         tags=list(tags), generator=generator, label=label)  # type: ignore[arg-type]
    with cli_runtime(click.get_current_context()) as rt:
        page = rt.services.datasets.list(query)
    if as_json:
        click.echo(json.dumps(to_builtins(page), indent=2))
        return
    if not page.items:
        click.echo("no datasets" + (" match" if page.total or offset else ""))
        return
    rows = [("name", "series", "channels", "length", "labels", "tags", "created")]
    for m in page.items:
        rows.append((m.name, str(m.n_series), str(m.n_channels), str(m.length),
                     ",".join(m.label_names), ",".join(m.tags),
                     m.created_at.strftime("%Y-%m-%d %H:%M")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    shown = f"{offset + 1}-{offset + len(page.items)}"
    click.echo(f"({shown} of {page.total})")


@command.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(name: str, as_json: bool) -> None:
    """Spec, checksum, size, series lengths, missing points and label counts of one
    dataset."""
    from synthts_core.domain import to_builtins
    from synthts_core.services.holdout import split_text

    with cli_runtime(click.get_current_context()) as rt:
        meta = rt.services.datasets.get(name)
    data: dict[str, Any] = to_builtins(meta)
    data["n_values"] = meta.n_values
    data["nbytes"] = meta.nbytes
    data["missing_share"] = meta.missing_share
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"name:        {meta.name}")
    click.echo(f"shape:       {meta.n_series} series x {meta.n_channels} channels x "
               f"{meta.length} steps ({meta.n_values:,} values, {human_bytes(meta.nbytes)})")
    if meta.min_length is not None:
        span = lengths_text(meta.min_length, meta.length).removeprefix("lengths ")
        click.echo(f"lengths:     {span} (series differ; a shorter one is padded, never "
                   "filled in)")
    if meta.n_missing:
        click.echo(f"missing:     {missing_text(meta.n_missing, meta.n_own_values)}, kept as "
                   "missing")
    click.echo(f"checksum:    {meta.checksum}")
    if meta.migrated is not None:
        click.echo(f"migrated:    {meta.migrated.migrated_at.isoformat(timespec='seconds')}, "
                   "from the normalised values an earlier synthts stored (checksum then "
                   f"{meta.migrated.previous_checksum})")
    click.echo(f"created:     {meta.created_at.isoformat()}")
    click.echo(f"source:      {meta.source}")
    click.echo(f"time axis:   {meta.time_axis.kind} (start {meta.time_axis.start}, "
               f"step {meta.time_axis.step})")
    click.echo(f"generators:  {', '.join(meta.generators) or '-'}")
    click.echo(f"tags:        {', '.join(meta.tags) or '-'}")
    click.echo(f"split:       {split_text(meta)}")
    if meta.description:
        click.echo(f"description: {meta.description}")
    if meta.label_names:
        click.echo("labels:")
        width = max(len(n) for n in meta.label_names)
        for label, count in zip(meta.label_names, meta.label_counts, strict=False):
            click.echo(f"  {label.ljust(width)}  {count}")
    else:
        click.echo("labels:      none")
    if meta.spec is not None:
        click.echo("spec:")
        click.echo(json.dumps(meta.spec, indent=2))


@command.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS),
              required=True, help="npz holds values, labels, label names and times; ts is "
              "the sktime/aeon format.")
@click.option("--layout", type=click.Choice(EXPORT_LAYOUTS), default="long", show_default=True,
              help="long: one row per value; wide: one row per series and channel.")
@click.option("--units", type=click.Choice(["real", "normalised"]), default="real",
              show_default=True, help="real: exactly as imported; normalised: through the "
              "normalisation recorded at import.")
@click.option("--label", "labels", multiple=True, help="Only series with this label (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write ('-' for standard output).")
def export_command(name: str, fmt: str, layout: str, units: str, labels: tuple[str, ...],
                   output: Path) -> None:
    """Write a dataset as CSV, Parquet, .npy (values only), .npz or .ts, in real units unless
    --units normalised; `synthts import` reads every one of them back."""
    with cli_runtime(click.get_current_context()) as rt:
        data = rt.services.datasets.export(
            name, fmt, layout=layout,  # type: ignore[arg-type]
            labels=list(labels) or None, units=units)  # type: ignore[arg-type]
    if str(output) == "-":
        click.get_binary_stream("stdout").write(data)
        return
    tmp = output.with_name(output.name + ".partial")
    tmp.write_bytes(data)
    tmp.replace(output)
    click.echo(f"wrote {output} ({human_bytes(len(data))})", err=True)


@command.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(name: str, yes: bool) -> None:
    """Delete a dataset (asks first unless --yes)."""
    with cli_runtime(click.get_current_context()) as rt:
        datasets = rt.services.datasets
        meta = datasets.get(name)
        if not yes:
            click.confirm(f"Delete dataset {name!r} ({meta.n_series} series, "
                          f"{human_bytes(meta.nbytes)})?", abort=True)
        datasets.delete(name)
    click.echo(f"deleted {name}")
