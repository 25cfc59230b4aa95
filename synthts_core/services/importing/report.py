"""What an import stored or would store: ``ImportReport`` (the dry run prints it, the upload's
dry run answers it) and ``ImportResult`` (the dataset beside its report)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from synthts_core.domain import Dataset, lengths_text, missing_text
from synthts_core.services.importing.options import DEFAULT_NORMALISATION


class Dropped(msgspec.Struct):
    why: str
    rows: int


class ImportReport(msgspec.Struct, kw_only=True):
    """What would be (or was) stored: the dry run prints this."""

    name: str
    format: str
    layout: str
    n_series: int
    n_channels: int
    length: int
    label_names: list[str]
    label_counts: list[int]
    value_columns: list[str] = []
    roles: dict[str, str] = {}
    window: int | None = None
    stride: int | None = None
    normalisation: str = DEFAULT_NORMALISATION
    time_axis: str = "regular"
    dropped: list[Dropped] = []
    notes: list[str] = []
    n_holdout: int = 0
    holdout: str = ""
    n_missing: int = 0  # missing points (NaN) kept as they are
    # series of different lengths: shortest, median and total points (None: all equal)
    min_length: int | None = None
    median_length: float | None = None
    n_points: int | None = None

    def lines(self) -> list[str]:
        out = [f"{self.name}: {self.n_series} series x {self.n_channels} channels x "
               f"{self.length} points ({self.format}, {self.layout} layout, "
               f"{self.normalisation} normalisation, {self.time_axis} time axis)"]
        if self.value_columns:
            shown = self.value_columns if len(self.value_columns) <= 8 else \
                [*self.value_columns[:3], "...", *self.value_columns[-2:]]
            out.append(f"  value columns ({len(self.value_columns)}): {', '.join(shown)}")
        for role, col in self.roles.items():
            out.append(f"  {role.replace('_', ' ')}: {col}")
        if self.window is not None:
            out.append(f"  window {self.window}, stride {self.stride}")
        if self.label_names:
            out.append("  labels: " + ", ".join(f"{n} ({c})" for n, c in
                                               zip(self.label_names, self.label_counts,
                                                   strict=True)))
        else:
            out.append("  labels: none")
        if self.min_length is not None:
            out.append("  " + lengths_text(self.min_length, self.length, self.median_length))
        if self.n_missing:
            points = self.n_points if self.n_points is not None else \
                self.n_series * self.length
            out.append("  missing: " + missing_text(self.n_missing, points * self.n_channels)
                       + ", kept as missing (never filled in)")
        if self.n_holdout:
            out.append(f"  held out of training: {self.holdout}")
        for d in self.dropped:
            out.append(f"  dropped {d.rows} rows: {d.why}")
        out.extend(f"  note: {n}" for n in self.notes)
        return out


@dataclass
class ImportResult:
    dataset: Dataset
    report: ImportReport
