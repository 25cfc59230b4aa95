"""``synthts sample MODEL[@version|alias]``: generate series from a registered model."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import click

from synthts_core.cli import cli_runtime

if TYPE_CHECKING:
    from synthts_core.services.models import Sample

FORMATS = (".csv", ".npy", ".html")
PLOT_SERIES_PER_LABEL = 5


@click.command("sample")
@click.argument("model")
@click.option("--n", "n", type=int, default=None,
              help="Series per label (default 1; conditional models: every label unless "
              "--label is given).")
@click.option("--label", "labels", multiple=True,
              help="Label name (or index as #3); repeatable.")
@click.option("--counts", "counts_text", default=None,
              help="Series per label, e.g. 1=24,2=26 (names first, #3 for an index).")
@click.option("--count", "count_items", multiple=True,
              help="LABEL=N; repeatable (for labels with commas).")
@click.option("--units", type=click.Choice(["real", "normalised"]), default="real",
              show_default=True, help="real: the units the training data was imported in; "
              "normalised: through its recorded normalisation.")
@click.option("--seed", type=int, default=None, help="Seed for reproducible latents.")
@click.option("--length", type=int, default=None,
              help="Points per series (default: the trained length). Longer series from a "
              "family that paints them window by window (diffusion: up to 64 windows).")
@click.option("--missing", type=click.Choice(["none", "learned"]), default="none",
              show_default=True, help="none: complete series; learned: the pattern of missing "
              "points the model learnt (NaN, an empty CSV cell).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write .csv (long format), .npy (values; labels beside it) or .html (plot).")
@click.option("--store", "store_as", default=None,
              help="Also save the series as a synthetic dataset with this name.")
@click.pass_context
def command(ctx: click.Context, model: str, n: int | None, labels: tuple[str, ...],
            counts_text: str | None, count_items: tuple[str, ...], units: str,
            seed: int | None, length: int | None, missing: str, output: Path | None,
            store_as: str | None) -> None:
    """Generate N series per label from MODEL (NAME, NAME@VERSION or NAME@ALIAS), or any
    number per label with --counts."""
    from synthts_core.errors import BadInputError

    if output is not None and output.suffix.lower() not in FORMATS:
        raise BadInputError("output", f"unknown file type {output.suffix!r}",
                            allowed=", ".join(FORMATS))
    counts = parse_counts(counts_text, count_items)
    if counts is not None and (n is not None or labels):
        raise BadInputError("counts", "give --counts/--count alone, or --n with --label",
                            allowed="--counts 1=24,2=26")
    with cli_runtime(ctx) as rt:
        result = rt.services.models.sample(model, n if counts is None else None,
                                           labels=list(labels) or None, seed=seed,
                                           counts=counts, units=units, length=length,
                                           missing=missing)
        if store_as:
            meta = rt.services.datasets.store(result.to_dataset(store_as))
            click.echo(f"stored dataset {meta.name!r} ({meta.n_series} series)")
    if output is not None:
        suffix = output.suffix.lower()
        output.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            write_csv(result, output)
        elif suffix == ".npy":
            write_npy(result, output)
        else:
            write_html(result, output)
        click.echo(f"wrote {output}")
    _summary(result)


def parse_counts(text: str | None, items: tuple[str, ...]) -> dict[str, int] | None:
    """``1=24,2=26`` and ``--count LABEL=N`` -> {label: count}; the last ``=`` splits, so a
    label may hold one."""
    from synthts_core.errors import BadInputError

    parts = [p for p in (text or "").split(",") if p.strip()] + list(items)
    if not parts:
        return None
    counts: dict[str, int] = {}
    for part in parts:
        label, sep, number = part.strip().rpartition("=")
        if not sep or not label or not number.strip().isdigit():
            raise BadInputError("counts", f"{part!r} is not LABEL=N",
                                allowed="e.g. 1=24,2=26 or sine=10 (N an integer >= 0)")
        if label in counts:
            raise BadInputError("counts", f"label {label!r} is given twice",
                                allowed="each label once")
        counts[label] = int(number)
    return counts


def label_of(result: Sample, i: int) -> str:
    if result.labels is None:
        return ""
    index = int(result.labels[i])
    return result.label_names[index] if index < len(result.label_names) else str(index)


def write_csv(result: Sample, path: Path) -> None:
    """Long format: one row per point (series, label, channel, t, value), up to each
    series' length; a missing point (``--missing learned``) has an empty value cell."""
    import numpy as np

    n, c, length = result.values.shape
    ends = result.lengths if result.lengths is not None else np.full(n, length)
    with path.open("w", newline="") as fh:
        fh.write("series,label,channel,t,value\n")
        for i in range(n):
            cell = io.StringIO()
            csv.writer(cell, lineterminator="").writerow([label_of(result, i)])
            label = cell.getvalue()
            prefix = label.replace("%", "%%")  # savetxt's format
            steps = np.arange(ends[i])
            for ch in range(c):
                row = result.values[i, ch, :ends[i]].astype(np.float64)
                if np.isnan(row).any():
                    fh.writelines(f"{i},{label},{ch},{t},{'' if v != v else f'{v:.9g}'}\n"
                                  for t, v in enumerate(row.tolist()))
                    continue
                np.savetxt(fh, np.column_stack([steps, row]), fmt=f"{i},{prefix},{ch},%d,%.9g")


def write_npy(result: Sample, path: Path) -> None:
    """Values (n, c, L) float32; labels, when the model has them, in ``<stem>.labels.npy``;
    series of unequal lengths NaN past their ends, their lengths in ``<stem>.lengths.npy``."""
    import numpy as np

    np.save(path, result.values, allow_pickle=False)
    if result.lengths is not None:  # NaN past each series' end; its length beside it
        lengths_path = path.with_name(path.stem + ".lengths.npy")
        np.save(lengths_path, result.lengths, allow_pickle=False)
        click.echo(f"wrote {lengths_path}")
    if result.labels is not None:
        labels_path = path.with_name(path.stem + ".labels.npy")
        np.save(labels_path, result.labels, allow_pickle=False)
        click.echo(f"wrote {labels_path} (label names: {', '.join(result.label_names)})")


def write_html(result: Sample, path: Path) -> None:
    """A self-contained plotly page: a few series of each label, one panel per label."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    n, c, _ = result.values.shape
    groups: dict[str, list[int]] = {}
    for i in range(n):
        groups.setdefault(label_of(result, i) or "all", []).append(i)
    fig = make_subplots(rows=len(groups), cols=1, shared_xaxes=True,
                        subplot_titles=[f"label {g}" if g != "all" else "samples" for g in groups])
    for row, (label, members) in enumerate(groups.items(), start=1):
        for i in members[:PLOT_SERIES_PER_LABEL]:
            for ch in range(c):
                fig.add_trace(go.Scatter(y=result.values[i, ch], mode="lines", showlegend=False,
                                         name=f"{label} #{i} ch{ch}", line={"width": 1}),
                              row=row, col=1)
    fig.update_layout(height=max(300, 220 * len(groups)),
                      title=f"{result.ref.name}@{result.ref.version}: {n} series")
    fig.write_html(path, include_plotlyjs=True, full_html=True)


def _summary(result: Sample) -> None:
    import numpy as np

    values = result.values
    points = f"{values.shape[2]} points" if result.lengths is None else \
        f"{int(result.lengths.min())}-{int(result.lengths.max())} points " \
        f"(median {float(np.median(result.lengths)):g})"
    click.echo(f"{result.ref.name}@{result.ref.version}: {values.shape[0]} series x "
               f"{values.shape[1]} channels x {points} ({result.units} units)")
    gaps = int(np.isnan(values).sum()) - (0 if result.lengths is None else int(
        values.shape[1] * (values.shape[2] - result.lengths).sum()))
    if gaps:
        click.echo(f"  missing points: {gaps}")
    if result.labels is not None:
        counts = np.bincount(result.labels, minlength=len(result.label_names))
        for index, count in enumerate(counts):
            if count:
                name = result.label_names[index] if index < len(result.label_names) else index
                click.echo(f"  {name}: {count}")
    click.echo(f"  mean {float(np.nanmean(values)):.4g}  std {float(np.nanstd(values)):.4g}  "
               f"min {float(np.nanmin(values)):.4g}  max {float(np.nanmax(values)):.4g}")
