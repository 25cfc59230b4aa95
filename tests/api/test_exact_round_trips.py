"""Exact round trips (issue 24): what is uploaded through the API or imported through the CLI
comes back bit for bit at float32 from every read path (values as JSON and ``.npy``, slices by
series, channel and label, figure data, the CLI's and the API's exports in every format) and
its checksum is of the float32 values given: negative zero, subnormals, float32's largest
numbers and constant channels included, whatever normalisation is recorded; and missing points
(NaN at random places, written as each format writes them: null, an empty cell, ``?``, NaN)
come back missing at the same places, never filled in; and series of different lengths come
back as long as they were (ragged JSON, rows only up to each length, ``@equalLength false``,
``.npz`` lengths; ``.npy`` padded with NaN), their lengths in the checksum.

Property-based (hypothesis) against the real parts: the Litestar app over HTTP, the ``synthts``
CLI and the one SQLite file they share. Exports are parsed here with independent readers
(Python's ``csv`` and ``float``, NumPy, Parquet) and also imported again by synthts."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from synthts_core.cli import cli
from synthts_core.domain import checksum
from synthts_core.services.importing import ImportOptions, import_data

API = "/api/v1"
LABELS = ["a", "b", "10"]
EXPORTS = [("csv", "long"), ("csv", "wide"), ("parquet", "long"), ("parquet", "wide"),
           ("npy", "long"), ("npz", "long"), ("ts", "long")]
F32 = np.finfo(np.float32)
EDGES = np.array([0.0, -0.0, F32.smallest_subnormal, -F32.smallest_subnormal, F32.tiny,
                  -F32.tiny, F32.max, -F32.max, 1e-40, 0.1, 16777217.0, -1.0], np.float32)
"""Values whose last bits a normalised store loses: beside float32's largest numbers, a
subnormal normalises to 0 and comes back as the channel's offset."""
_names = itertools.count()


Case = tuple[np.ndarray, list[str], str, str, str, np.ndarray | None]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """(float32 values (series, channels, length), a label per series, the normalisation,
    the API upload's format, the CLI import's format, each series' length or None: values
    past it are NaN padding)."""
    n = draw(st.integers(2, 6))
    c = draw(st.integers(1, 3))
    length = draw(st.integers(2, 7))
    finite = st.floats(width=32, allow_nan=False, allow_infinity=False)
    values = draw(arrays(np.float32, (n, c, length), elements=finite | st.sampled_from(EDGES)))
    if draw(st.booleans()):  # a constant channel (its normalisation scale is 1)
        values[:, draw(st.integers(0, c - 1)), :] = draw(finite)
    lengths = None
    if draw(st.booleans()):  # series of different lengths, the longest as long as the values
        lengths = np.asarray(draw(st.lists(st.integers(1, length), min_size=n, max_size=n)))
        lengths[draw(st.integers(0, n - 1))] = length
        if (lengths == length).all():
            lengths = None
    ends = np.full(n, length) if lengths is None else lengths
    if draw(st.booleans()):  # missing points at random places; every series keeps one, and
        # every channel (a channel never observed is refused at import)
        holes = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random(values.shape)
        missing = holes < draw(st.sampled_from([0.1, 0.5, 0.9]))
        missing[np.arange(n), 0, draw(st.integers(0, length - 1)) % ends] = False
        missing[0, :, draw(st.integers(0, length - 1)) % ends[0]] = False
        values[missing] = np.nan
    values[np.broadcast_to(np.arange(length) >= ends[:, None, None], values.shape)] = np.nan
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=n, max_size=n))
    return (values, labels, draw(st.sampled_from(["zscore", "minmax", "none"])),
            draw(st.sampled_from(["json", "npz", "csv"])),
            draw(st.sampled_from(["json", "npz", "csv", "ts"] + (["npy"] if lengths is None
                                                                 else []))), lengths)


def _edges_case() -> Case:
    values = np.stack([np.resize(EDGES, (2, 6)), np.resize(EDGES[::-1], (2, 6))], axis=1)
    values = np.concatenate([values, np.full((1, 2, 6), -0.0, np.float32)])
    return values.astype(np.float32), ["b", "10", "a"], "zscore", "json", "ts", None


def _holes_case() -> Case:
    """The edges with missing points, a whole channel of one series among them."""
    values, labels, _, _, _, _ = _edges_case()
    values[0, 1, :] = np.nan
    values[1, :, ::2] = np.nan
    values[2, 0, 3] = np.nan
    return values, labels, "minmax", "csv", "ts", None


def _ragged_case(upload: str, cli: str) -> Case:
    """The holes in series of lengths 6, 2 and 4: a missing last own point (series 1), a
    channel missing entirely within its length (series 0)."""
    values, labels, _, _, _, _ = _holes_case()
    values[1, :, 2:] = np.nan
    values[2, :, 4:] = np.nan
    return values, labels, "zscore", upload, cli, np.array([6, 2, 4])


# ------------------------------------------------------------------------------ encoders


def _text(x: float, missing: str = "") -> str:
    """A float32 as the shortest decimal of its float64 value: parses back exactly;
    ``missing`` at a missing point."""
    return missing if np.isnan(x) else repr(float(x))


def encode(values: np.ndarray, labels: list[str], fmt: str,
           lengths: np.ndarray | None = None) -> bytes:
    """The series as a file a user would bring, written here (not by synthts); series of
    different ``lengths`` as ragged JSON lists, rows only up to each length, ``@equalLength
    false`` or an ``.npz`` ``lengths`` array."""
    n, c, length = values.shape
    ends = [length] * n if lengths is None else [int(k) for k in lengths]
    if fmt == "json":
        wide = np.where(np.isnan(values), None, values.astype(np.float64))
        doc: dict[str, Any] = {"values": [s[:, :k].tolist() for s, k in zip(wide, ends,
                                                                             strict=True)],
                               "labels": labels}
        if lengths is not None:
            doc["lengths"] = ends
        return json.dumps(doc).encode()
    buf = io.BytesIO()
    if fmt == "npy":
        np.save(buf, values)
        return buf.getvalue()
    if fmt == "npz":
        extra = {} if lengths is None else {"lengths": np.asarray(lengths)}
        np.savez(buf, values=values, labels=np.asarray(labels), **extra)
        return buf.getvalue()
    if fmt == "csv":  # the long layout: one row per value
        lines = ["series,label,channel,time,value"]
        lines += [f"{i},{labels[i]},{ch},{t},{_text(values[i, ch, t])}"
                  for i in range(n) for ch in range(c) for t in range(ends[i])]
        return ("\n".join(lines) + "\n").encode()
    head = ["@problemName rt", "@timeStamps false",
            f"@missing {str(bool(np.isnan(values).any())).lower()}",
            f"@univariate {'true' if c == 1 else 'false'}", f"@dimensions {c}",
            *(["@equalLength true", f"@seriesLength {length}"] if lengths is None
              else ["@equalLength false"]),
            "@classLabel true " + " ".join(LABELS), "@data"]
    rows = [":".join([*(",".join(_text(v, "?") for v in values[i, ch, :ends[i]])
                        for ch in range(c)), labels[i]]) for i in range(n)]
    return ("\n".join(head + rows) + "\n").encode()


# ------------------------------------------------------------------------------ readers


def bits(a: Any) -> np.ndarray:
    """float32 bits; a JSON null (None) is NaN, which is how a missing point is stored."""
    return np.ascontiguousarray(np.asarray(a, np.float32)).view(np.uint32)


def number(text: Any) -> float:
    """A cell of an exported table: empty (CSV) or null (Parquet) is a missing point."""
    return float("nan") if text is None or text == "" else float(text)


def assert_exact(got: Any, expected: np.ndarray, what: str) -> None:
    got = np.asarray(got, np.float32)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}"
    np.testing.assert_array_equal(bits(got), bits(expected), err_msg=what)


def parse_export(data: bytes, fmt: str, layout: str, shape: tuple[int, int, int],
                 lengths: np.ndarray | None = None) -> tuple[np.ndarray, list[str] | None]:
    """(values as float64, NaN-padded past each series' ``lengths``, label per series) from
    an exported file, read without synthts; checks the lengths it states."""
    n, c, length = shape
    if fmt == "npy":
        return np.load(io.BytesIO(data)), None
    if fmt == "npz":
        with np.load(io.BytesIO(data)) as z:
            assert z["values"].dtype == np.float32
            assert ("lengths" in z) == (lengths is not None)
            if lengths is not None:
                assert z["lengths"].tolist() == lengths.tolist()
            if "labels" not in z:
                return z["values"], None
            return z["values"], [str(z["label_names"][i]) for i in z["labels"]]
    if fmt == "ts":
        assert (b"@equalLength false" in data) == (lengths is not None)
        rows = data.decode().split("@data\n", 1)[1].splitlines()
        parts = [row.split(":") for row in rows]
        out = np.full(shape, np.nan)
        for i, p in enumerate(parts):
            for ch, dim in enumerate(p[:c]):
                cells = [number(v.replace("?", "")) for v in dim.split(",")]
                out[i, ch, :len(cells)] = cells
        return out, [p[c] for p in parts] if len(parts[0]) > c else None
    if fmt == "csv":
        table = list(csv.DictReader(io.StringIO(data.decode())))
        columns = {k: [row[k] for row in table] for k in table[0]}
    else:
        columns = {k: [str(v) if k == "label" else v for v in col]
                   for k, col in pq.read_table(io.BytesIO(data)).to_pydict().items()}
    if layout == "long":  # rows in order, only up to each series' length
        values = np.full(shape, np.nan)
        labels: dict[int, str] = {}
        seen: dict[tuple[int, int], int] = {}
        for s, ch, v, lab in zip(columns["series"], columns["channel"], columns["value"],
                                 columns["label"], strict=True):
            key = (int(float(s)), int(float(ch)))
            values[key[0], key[1], seen.get(key, 0)] = number(v)
            seen[key] = seen.get(key, 0) + 1
            labels.setdefault(key[0], lab)
        ends = np.full(n, length) if lengths is None else lengths
        assert all(k == ends[s] for (s, _), k in seen.items()), "rows past a length"
        return values, [labels[i] for i in range(n)]
    times = [k for k in columns if k not in ("series", "label", "channel", "length")]
    values = np.array([[number(v) for v in columns[t]] for t in times]).T.reshape(n, c, length)
    return values, columns["label"][::c]


def figure_traces(figure: dict[str, Any]) -> list[np.ndarray]:
    """The y data of every trace of a plotly figure's JSON (typed arrays decoded)."""
    out = []
    for trace in figure["data"]:
        y = trace["y"]
        if isinstance(y, dict):
            out.append(np.frombuffer(base64.b64decode(y["bdata"]), np.dtype(y["dtype"])))
        else:
            out.append(np.asarray(y, np.float64))
    return out


# ------------------------------------------------------------------------------ the property


@pytest.fixture(scope="module")
def cli_env(module_data_dir: Path) -> dict[str, str]:
    """The CLI on the app's data folder: one SQLite file behind both front ends."""
    return {"SYNTHTS_DATA_DIR": str(module_data_dir), "SYNTHTS_STORAGE": "",
            "SYNTHTS_API_TOKEN": ""}


def run_cli(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@pytest.mark.slow
@example(case=_edges_case())
@example(case=_holes_case())
@example(case=_ragged_case("json", "ts"))
@example(case=_ragged_case("csv", "npz"))
@given(case=cases())
def test_upload_and_import_come_back_bit_for_bit(client, cli_env, tmp_path, case) -> None:
    values, labels, normalise, upload_fmt, import_fmt, lengths = case
    k = next(_names)
    up = client.post(f"{API}/datasets/upload",
                     content=encode(values, labels, upload_fmt, lengths),
                     params={"name": f"up-{k}", "format": upload_fmt, "normalise": normalise})
    assert up.status_code == 201, up.text
    source = tmp_path / f"in-{k}.{import_fmt}"
    source.write_bytes(encode(values, labels, import_fmt, lengths))
    run_cli(cli_env, "import", str(source), "--name", f"cli-{k}", "--normalise", normalise)
    for name, labelled in ((f"up-{k}", True), (f"cli-{k}", import_fmt != "npy")):
        check_every_read(client, cli_env, tmp_path, name, values,
                         labels if labelled else None, normalise, lengths)


def assert_series(got: list[Any], expected: np.ndarray, lengths: np.ndarray | None,
                  what: str) -> None:
    """JSON series: each exactly as long as its length (never padded), bit for bit."""
    if lengths is None:
        assert_exact(got, expected, what)
        return
    assert len(got) == len(expected), what
    for i, (series, k) in enumerate(zip(got, lengths, strict=True)):
        assert_exact(series, expected[i, :, :k], f"{what}: series {i}")


def check_every_read(client: Any, cli_env: dict[str, str], tmp_path: Path, name: str,
                     values: np.ndarray, labels: list[str] | None, normalise: str,
                     lengths: np.ndarray | None = None) -> None:
    n, c, length = values.shape
    url = f"{API}/datasets/{name}"
    meta = client.get(url).json()
    names = meta["label_names"]
    index = None if labels is None else np.array([names.index(x) for x in labels])
    # the checksum is of the float32 values given (and the labels, and the lengths)
    assert meta["checksum"] == checksum(values, index, None, lengths)
    assert meta["normalisation"]["method"] == normalise and meta.get("migrated") is None
    ends = np.full(n, length) if lengths is None else lengths
    own = np.arange(length)[None, None, :] < ends[:, None, None]
    assert meta["n_missing"] == int((np.isnan(values) & own).sum())  # never the padding
    assert meta["missing_share"] == meta["n_missing"] / (c * ends.sum())
    assert meta["min_length"] == (None if lengths is None else int(lengths.min()))

    as_json = client.get(f"{url}/values", params={"limit": n, "format": "json"}).json()
    assert_series(as_json["values"], values, lengths, f"{name}: JSON values")
    assert as_json["lengths"] == (None if lengths is None else lengths.tolist())
    npy = client.get(f"{url}/values", params={"limit": n, "format": "npy"})
    assert_exact(np.load(io.BytesIO(npy.content)), values, f"{name}: .npy values")
    part = client.get(f"{url}/values", params={"offset": 1, "limit": n, "channel": [c - 1],
                                               "format": "npy"})
    assert_exact(np.load(io.BytesIO(part.content)), values[1:, [c - 1]], f"{name}: a slice")
    if labels is not None:
        first = labels[0]
        rows = [i for i, x in enumerate(labels) if x == first]
        picked = client.get(f"{url}/values", params={"label": first, "limit": n}).json()
        assert_series(picked["values"], values[rows], None if lengths is None else
                      lengths[rows], f"{name}: label {first}")

    figure = client.get(f"{url}/figure", params={"channel": c - 1, "per_label": 2}).json()
    groups = [[i for i, x in enumerate(labels) if x == lab][:2] for lab in names] \
        if labels is not None else [list(range(min(2, n)))]
    expected = [values[i, c - 1, :ends[i]] for rows in groups for i in rows]  # ends there
    traces = figure_traces(figure)
    assert len(traces) == len(expected)
    assert all(t["connectgaps"] is False for t in figure["data"])  # a gap at a missing point
    for got, want in zip(traces, expected, strict=True):
        assert_exact(got, want, f"{name}: figure data")

    for fmt, layout in EXPORTS:
        data = client.get(f"{url}/export", params={"format": fmt, "layout": layout}).content
        out = tmp_path / f"{name}-{layout}.{fmt}"
        run_cli(cli_env, "datasets", "export", name, "--format", fmt, "--layout", layout,
                "-o", str(out))
        assert out.read_bytes() == data, f"{name}: the CLI and the API export {fmt} alike"
        if fmt in ("csv", "ts") and (np.isnan(values) & own).any():  # an empty cell, or "?"
            assert b"nan" not in data.lower(), f"{name}: {fmt} writes a missing point as NaN"
            assert fmt == "csv" or b"@missing true" in data
        got, got_labels = parse_export(data, fmt, layout, (n, c, length), lengths)
        assert_exact(got, values, f"{name}: {fmt} {layout} export")
        if labels is not None and got_labels is not None:
            assert got_labels == labels, f"{name}: {fmt} {layout} labels"
        if fmt == "npy" and lengths is not None:
            continue  # NaN padding, as read above: a .npy says nothing of lengths
        again = import_data(data, ImportOptions(name="again", format=fmt, normalise=normalise))
        assert_exact(again.dataset.values, values, f"{name}: {fmt} {layout} imported again")
        back = again.dataset.lengths
        assert (None if back is None else back.tolist()) == \
            (None if lengths is None else lengths.tolist()), f"{name}: {fmt} {layout} lengths"
