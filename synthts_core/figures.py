"""Plotly figures for datasets, evaluations, interpolations and training runs.

Import this module only when a figure is drawn: it imports plotly at the top. Every function
returns a ``plotly.graph_objects.Figure``; ``to_html`` turns one or several into a single
self-contained page (plotly.js inlined, so the file opens offline). Interpolations are plotly
animations (frames and a play button) instead of the seed's ffmpeg GIF.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from synthts_core.subsets import first_per_label

REAL_COLOUR = "#1f77b4"
SYNTHETIC_COLOUR = "#d62728"
MAX_PANELS = 12
NOT_CURVES = {"epoch", "resumed_from_epoch", "epoch_s", "time_s"}


def _x_axis(length: int, times: np.ndarray | None, row: int) -> np.ndarray:
    if times is None:
        return np.arange(length)
    t = np.asarray(times)
    return t[row] if t.ndim == 2 else t


def _groups(labels: np.ndarray | None, label_names: Sequence[str], n: int,
            per_label: int) -> list[tuple[str, np.ndarray]]:
    """(panel title, first ``per_label`` row indices) per label, at most MAX_PANELS panels."""
    if labels is None:
        return [("all series", np.arange(min(per_label, n)))]
    out = []
    for idx in np.unique(labels)[:MAX_PANELS]:
        name = label_names[idx] if idx < len(label_names) else str(idx)
        out.append((str(name), first_per_label(labels, [idx], per_label)))
    return out


def _add_series(fig: go.Figure, values: np.ndarray, rows: np.ndarray, times: np.ndarray | None,
                *, row: int, col: int, colour: str | None, group: str, show: bool,
                lengths: np.ndarray | None = None) -> None:
    """One trace per series and channel; a series shorter than the longest (``lengths``)
    simply ends (its padding is not drawn)."""
    channels = values.shape[1]
    for k, i in enumerate(rows):
        end = values.shape[2] if lengths is None else int(lengths[i])
        for ch in range(channels):
            name = group if channels == 1 else f"{group} ch{ch}"
            fig.add_trace(go.Scatter(
                x=_x_axis(values.shape[2], times, int(i))[:end], y=values[i, ch, :end],
                mode="lines",
                connectgaps=False,  # a missing point (NaN) is a gap, never a joined line
                line={"width": 1, **({"color": colour} if colour else {})}, opacity=0.8,
                name=name, legendgroup=name, showlegend=show and k == 0 and row == 1,
            ), row=row, col=col)


def dataset_figure(values: np.ndarray, labels: np.ndarray | None, label_names: Sequence[str],
                   times: np.ndarray | None = None, per_label: int = 3,
                   lengths: np.ndarray | None = None) -> go.Figure:
    """A few series of each label, one panel per label; a missing point (NaN) is a gap, a
    shorter series (``lengths``) ends where it ends."""
    values = np.asarray(values)
    groups = _groups(labels, label_names, len(values), per_label)
    fig = make_subplots(rows=len(groups), cols=1, shared_xaxes=True,
                        subplot_titles=[g[0] for g in groups], vertical_spacing=0.04)
    for r, (_, rows) in enumerate(groups, start=1):
        _add_series(fig, values, rows, times, row=r, col=1, colour=None, group="series",
                    show=False, lengths=lengths)
    fig.update_layout(height=max(300, 180 * len(groups)), showlegend=False,
                      title="Dataset: examples per label")
    return fig


def real_vs_synthetic_figure(real: np.ndarray, real_labels: np.ndarray | None,
                             synthetic: np.ndarray, synthetic_labels: np.ndarray | None,
                             label_names: Sequence[str], per_label: int = 3, *,
                             real_lengths: np.ndarray | None = None,
                             synthetic_lengths: np.ndarray | None = None) -> go.Figure:
    """Real series (left) beside synthetic ones (right), one row per label; series of
    different lengths end where they end."""
    real, synthetic = np.asarray(real), np.asarray(synthetic)
    groups = _groups(real_labels, label_names, len(real), per_label)
    fig = make_subplots(rows=len(groups), cols=2, shared_xaxes=True, shared_yaxes=True,
                        column_titles=["real", "synthetic"],
                        row_titles=[g[0] for g in groups], vertical_spacing=0.04)
    for r, (name, rows) in enumerate(groups, start=1):
        _add_series(fig, real, rows, None, row=r, col=1, colour=REAL_COLOUR, group="real",
                    show=True, lengths=real_lengths)
        if synthetic_labels is None:
            syn_rows = np.arange(min(per_label, len(synthetic)))
        else:
            idx = label_names.index(name) if name in label_names else -1
            syn_rows = first_per_label(np.asarray(synthetic_labels), [idx], per_label)
        _add_series(fig, synthetic, syn_rows, None, row=r, col=2, colour=SYNTHETIC_COLOUR,
                    group="synthetic", show=True, lengths=synthetic_lengths)
    fig.update_layout(height=max(320, 180 * len(groups)), title="Real vs synthetic")
    return fig


def embedding_figure(real_points: np.ndarray, synthetic_points: np.ndarray,
                     method: str = "pca", title: str | None = None) -> go.Figure:
    """2-D embedding (``projection.embeddings``) of real and synthetic series."""
    fig = go.Figure()
    for name, pts, colour in (("real", real_points, REAL_COLOUR),
                              ("synthetic", synthetic_points, SYNTHETIC_COLOUR)):
        pts = np.asarray(pts)
        fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=name,
                                 marker={"color": colour, "size": 5, "opacity": 0.4}))
    label = {"pca": "PCA", "tsne": "t-SNE"}.get(method, method)
    fig.update_layout(title=title or f"{label} of real and synthetic series",
                      xaxis_title=f"{label} 1", yaxis_title=f"{label} 2")
    return fig


def interpolation_animation(frames: np.ndarray, times: np.ndarray | None = None,
                            captions: Sequence[str] | None = None,
                            title: str = "Latent interpolation") -> go.Figure:
    """Animate series (steps, channels, length): one plotly frame per step, play/pause and a
    slider. The y range is fixed over all frames so motion is not rescaled away."""
    frames = np.asarray(frames)
    steps, channels, length = frames.shape
    x = np.arange(length) if times is None else np.asarray(times)
    names = list(captions) if captions is not None else [f"{i / max(steps - 1, 1):.2f}"
                                                         for i in range(steps)]

    def traces(i: int) -> list[go.Scatter]:
        return [go.Scatter(x=x, y=frames[i, ch], mode="lines", name=f"channel {ch}")
                for ch in range(channels)]

    lo, hi = float(frames.min()), float(frames.max())
    pad = 0.05 * (hi - lo or 1.0)
    fig = go.Figure(data=traces(0),
                    frames=[go.Frame(data=traces(i), name=names[i]) for i in range(steps)])
    play = {"frame": {"duration": 120, "redraw": False}, "fromcurrent": True,
            "transition": {"duration": 0}}
    fig.update_layout(
        title=title, yaxis={"range": [lo - pad, hi + pad]},
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0, "y": -0.12,
                      "buttons": [
                          {"label": "Play", "method": "animate", "args": [None, play]},
                          {"label": "Pause", "method": "animate",
                           "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}]}]}],
        sliders=[{"active": 0, "currentvalue": {"prefix": "t = "}, "steps": [
            {"label": n, "method": "animate",
             "args": [[n], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]}
            for n in names]}],
    )
    return fig


def training_curves_figure(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> go.Figure:
    """One panel per logged quantity, one line per trial; x is ``epoch`` where logged."""
    keys = sorted({k for h in histories.values() for row in h for k in row
                   if k not in NOT_CURVES})
    keys = keys or ["(no metrics)"]
    fig = make_subplots(rows=len(keys), cols=1, shared_xaxes=True, subplot_titles=keys,
                        vertical_spacing=0.06)
    for r, key in enumerate(keys, start=1):
        for trial, rows in histories.items():
            pts = [(row.get("epoch", i + 1), row[key]) for i, row in enumerate(rows) if key in row]
            if not pts:
                continue
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts],
                                     mode="lines", name=str(trial), legendgroup=str(trial),
                                     showlegend=r == 1), row=r, col=1)
    fig.update_layout(height=max(300, 220 * len(keys)), title="Training curves")
    fig.update_xaxes(title_text="epoch", row=len(keys), col=1)
    return fig


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4g}"


def metrics_table_figure(results: Sequence[Any]) -> go.Figure:
    """``MetricResult``s (or their dicts) as a table: one row per metric, the pooled value ±
    std and direction, then one column per class where per-class values exist."""
    rows = [r if isinstance(r, Mapping) else {
        "name": r.name, "value": r.value, "std": r.std, "per_class": r.per_class,
        "higher_is_better": r.higher_is_better} for r in results]
    classes: list[str] = []
    for r in rows:
        classes += [c for c in (r.get("per_class") or {}) if c not in classes]
    header = ["metric", "better", "all", "± std", *classes]
    cells = [
        [r["name"] for r in rows],
        ["higher" if r.get("higher_is_better") else "lower" for r in rows],
        [_fmt(r["value"]) for r in rows],
        [_fmt(r.get("std")) for r in rows],
        *([_fmt((r.get("per_class") or {}).get(c)) for r in rows] for c in classes),
    ]
    fig = go.Figure(go.Table(header={"values": header, "align": "left"},
                             cells={"values": cells, "align": "left"},
                             columnwidth=[2.2, 1, 1, 1] + [1] * len(classes)))
    fig.update_layout(title="Metrics", height=max(260, 180 + 34 * len(rows)),
                      margin={"l": 10, "r": 10})
    return fig


def to_html(figures: go.Figure | Sequence[go.Figure], title: str, lead: str = "",
            style: str = "") -> str:
    """One self-contained HTML page: ``lead`` (trusted HTML, e.g. the verdict), plotly.js
    inlined once, then every figure."""
    figs = [figures] if isinstance(figures, go.Figure) else list(figures)
    parts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0))
             for i, fig in enumerate(figs)]
    body = "\n".join(f'<section class="figure">{p}</section>' for p in parts)
    safe = html.escape(title)
    css = f"<style>{style}</style>" if style else ""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{safe}</title>{css}</head>\n<body><h1>{safe}</h1>\n{lead}\n{body}\n"
            "</body></html>\n")
