"""The sktime/aeon ``.ts`` text format (UCR/UEA archives): read and write.

A header of ``@key value`` lines, then ``@data`` and one series per line: the channels
separated by ``:``, the points of a channel by ``,``, the class label last when ``@classLabel
true``. Series without timestamps are supported, of equal or unequal lengths
(``@equalLength false``: stored padded with NaN, with each series' length; the channels of one
series have one length); a missing point (``?`` or ``NaN``) is kept as NaN; timestamped files
are refused with a message saying so.
"""

from __future__ import annotations

import numpy as np

from synthts_core.errors import BadInputError, LimitExceededError
from synthts_core.services.importing.readers import LIMIT_SETTING, Arrays


def parse_ts(raw: bytes, max_values: int | None = None) -> Arrays:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError("source", f"is not UTF-8 text ({exc})") from None
    header: dict[str, str] = {}
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not stripped.startswith("@"):
            raise BadInputError("source", f"line {i + 1}: data before @data",
                                allowed="a .ts file (sktime/aeon format)")
        key, _, value = stripped[1:].partition(" ")
        if key.lower() == "data":
            start = i + 1
            break
        header[key.lower()] = value.strip()
    if start is None:
        raise BadInputError("source", "has no @data line", allowed="a .ts file (sktime/aeon "
                            "format)")
    if header.get("timestamps", "false").lower() == "true":
        raise BadInputError("source", "uses @timeStamps true",
                            allowed="a .ts file without timestamps")
    if "targetlabel" in header and header["targetlabel"].split()[:1] == ["true"]:
        raise BadInputError("source", "is a regression file (@targetlabel)",
                            allowed="a classification or unlabelled .ts file")
    class_field = header.get("classlabel", "false").split()
    labelled = bool(class_field) and class_field[0].lower() == "true"
    declared = class_field[1:] if labelled else None
    rows: list[list[np.ndarray]] = []
    labels: list[str] = []
    total = 0
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if labelled:
            if len(parts) < 2:
                raise BadInputError("source", f"line {i + 1} has no class label",
                                    allowed="CHANNEL:...:LABEL with @classLabel true")
            labels.append(parts.pop().strip())
        channels = [_numbers(p, i + 1) for p in parts]
        total += sum(len(c) for c in channels)
        if max_values is not None and total > max_values:
            raise LimitExceededError("values in the upload", total, max_values, LIMIT_SETTING)
        rows.append(channels)
    if not rows:
        raise BadInputError("source", "has no series after @data", allowed="at least one")
    n_channels = {len(r) for r in rows}
    if len(n_channels) != 1:
        raise BadInputError("source", f"series have {sorted(n_channels)} channels",
                            allowed="the same number of channels in every series")
    per_series = [{len(c) for c in r} for r in rows]
    for s, found in enumerate(per_series):
        if len(found) != 1:
            raise BadInputError("source", f"series {s} has channels of different lengths "
                                f"({min(found)}..{max(found)})", allowed="the same length in "
                                "every channel of a series (series may differ)")
    lengths = np.fromiter((next(iter(f)) for f in per_series), np.int64, len(rows))
    if (lengths == lengths[0]).all():
        values = np.asarray(rows, dtype=np.float64)
        ragged = None
    else:  # @equalLength false: padded with NaN to the longest
        values = np.full((len(rows), len(rows[0]), int(lengths.max())), np.nan)
        for s, r in enumerate(rows):
            values[s, :, :lengths[s]] = r
        ragged = lengths
    arrays = Arrays(values, description=f"problem {header['problemname']}"
                    if "problemname" in header else "", lengths=ragged)
    if labelled:
        unknown = sorted(set(labels) - set(declared or labels))
        if unknown:
            raise BadInputError("labels", f"{unknown[0]!r} is not declared in @classLabel",
                                allowed=", ".join(declared or []))
        arrays.labels = np.asarray(labels, dtype=object)
        arrays.label_names = list(declared) if declared else None
    return arrays


def _numbers(part: str, line: int) -> np.ndarray:
    part = part.strip()
    if "(" in part:
        raise BadInputError("source", f"line {line} has timestamps", allowed="plain values")
    cells = [c.strip() for c in part.split(",")]
    text = ",".join("nan" if c == "?" or c.lower() == "nan" else c for c in cells)
    try:
        out = np.fromstring(text, dtype=np.float64, sep=",")
    except ValueError:
        out = np.empty(0)
    if not part or out.size != len(cells):
        raise BadInputError("source", f"line {line} holds a value that is not a number",
                            allowed="comma-separated numbers ('?' or NaN for a missing point), "
                            "channels separated by ':'")
    return out


def write_ts(values: np.ndarray, labels: list[str] | None, label_names: list[str],
             problem: str, lengths: np.ndarray | None = None) -> bytes:
    """A dataset as ``.ts`` text (values as given, 9 significant digits; ``?`` at a missing
    point); series of different ``lengths`` as ``@equalLength false``, each written up to its
    length."""
    n, c, length = values.shape
    ends = [length] * n if lengths is None else [int(x) for x in lengths]
    missing = any(np.isnan(values[i, :, :ends[i]]).any() for i in range(n))
    head = [f"@problemName {problem}", "@timeStamps false",
            f"@missing {'true' if missing else 'false'}",
            f"@univariate {'true' if c == 1 else 'false'}", f"@dimensions {c}"]
    head += (["@equalLength true", f"@seriesLength {length}"] if lengths is None
             else ["@equalLength false"])
    if labels is not None:
        if any(" " in x or ":" in x or not x for x in label_names):
            raise BadInputError("format", "ts labels cannot hold spaces, ':' or be empty",
                                allowed="csv, parquet or npz for such labels")
        head.append("@classLabel true " + " ".join(label_names))
    else:
        head.append("@classLabel false")
    head.append("@data")
    body = []
    for i in range(n):
        dims = [",".join("?" if v != v else f"{v:.9g}"
                         for v in values[i, ch, :ends[i]].tolist()) for ch in range(c)]
        if labels is not None:
            dims.append(labels[i])
        body.append(":".join(dims))
    return ("\n".join(head + body) + "\n").encode()
