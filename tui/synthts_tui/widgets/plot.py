"""Terminal plots of series, metric histories and 2-D embeddings (textual-plotext).

One widget, a few drawing methods; it remembers what it drew (``drawn``) so tests and other
widgets can ask what is on screen without parsing braille characters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual_plotext import PlotextPlot

COLORS = ("cyan", "magenta", "green", "orange", "blue", "red", "yellow", "gray")


def _observed_runs(ys: Sequence[float | None]) -> list[tuple[int, int]]:
    """(start, stop) of each run of observed points: a missing point (``None`` as JSON gives
    it, or NaN) is left out, so the line breaks there instead of joining across it."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, y in enumerate(ys):
        missing = y is None or y != y
        if missing and start is not None:
            runs.append((start, i))
            start = None
        elif not missing and start is None:
            start = i
    if start is not None:
        runs.append((start, len(ys)))
    return runs


class SeriesPlot(PlotextPlot):
    """Series grouped by label, one colour per label."""

    def __init__(self, title: str = "", *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.drawn: dict[str, int] = {}
        """label -> number of lines currently drawn."""

    def on_mount(self) -> None:
        super().on_mount()
        self._reset(self.title)
        self.plt.title(self.title or "nothing to plot yet")

    def _reset(self, title: str) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        self.drawn = {}

    def show_series(self, groups: Mapping[str, Sequence[Sequence[float]]], *,
                    x: Sequence[float] | None = None, title: str = "") -> None:
        """Draw every series of every group; the legend names each group once."""
        self._reset(title)
        plt = self.plt
        for i, (label, series) in enumerate(groups.items()):
            color = COLORS[i % len(COLORS)]
            named = False
            for ys in series:
                # a shorter series (unequal lengths) is drawn on the start of the shared axis
                xs = list(x[:len(ys)]) if x is not None and len(x) >= len(ys) else \
                    list(range(len(ys)))
                for lo, hi in _observed_runs(ys):  # a gap at each missing point
                    plt.plot(xs[lo:hi], list(ys[lo:hi]), color=color,
                             label=None if named else label, marker="braille")
                    named = True
            self.drawn[label] = len(series)
        self.refresh()

    def show_history(self, curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *,
                     title: str = "", xlabel: str = "epoch") -> None:
        """Metric curves, one per name (e.g. one per trial), each as (epochs, values)."""
        self._reset(title)
        plt = self.plt
        for i, (name, (xs, ys)) in enumerate(curves.items()):
            if not ys:
                continue
            plt.plot(list(xs), list(ys), color=COLORS[i % len(COLORS)], label=name,
                     marker="braille")
            self.drawn[name] = 1
        plt.xlabel(xlabel)
        self.refresh()

    def show_points(self, groups: Mapping[str, Sequence[Sequence[float]]], *,
                    title: str = "") -> None:
        """2-D scatter (embeddings): each group is a list of (x, y) points."""
        self._reset(title)
        plt = self.plt
        for i, (name, points) in enumerate(groups.items()):
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            plt.scatter(xs, ys, color=COLORS[i % len(COLORS)], label=name, marker="dot")
            self.drawn[name] = len(points)
        self.refresh()

    def clear(self, title: str = "") -> None:
        self._reset(title)
        self.refresh()
