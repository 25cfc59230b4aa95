"""A JSON array of numbers (``[[1, 2], [3, 4]]``, up to 3 levels) straight into a float64
NumPy array, without a Python list or float per value.

The bytes are checked to hold only numbers, ``null``, commas, brackets and white space (so
``true``, strings and ``NaN`` are refused, never read as 1.0/0.0), nesting is measured on the
brackets alone (so 2000 levels cost nothing and raise no RecursionError), the shape comes from
counting commas per innermost array, and the numbers are parsed by NumPy's C text reader.
``null`` is a missing point: read as NaN. With ``ragged=True`` the innermost arrays (the
series) may differ in length, the channels of one series not: the result is padded with NaN
to the longest and each series' length comes back beside it.
"""

from __future__ import annotations

import numpy as np

from synthts_core.errors import BadInputError, LimitExceededError

_ALLOWED = np.zeros(256, dtype=bool)
for _c in b"0123456789+-.eE,[] \t\r\nnul":  # n, u, l: only inside ``null``
    _ALLOWED[_c] = True
_REFUSED = ~_ALLOWED
_BRACKET = np.zeros(256, dtype=bool)
_BRACKET[[ord("["), ord("]")]] = True
_SPACE = np.zeros(256, dtype=bool)
for _c in b" \t\r\n":
    _SPACE[_c] = True
_OPEN, _CLOSE, _COMMA = ord("["), ord("]"), ord(",")
_EXPECTED = "[[...], ...] of numbers: (series, length) or (series, channels, length)"


def parse_number_array(raw: bytes | memoryview, field: str = "values", max_depth: int = 3,
                       max_values: int | None = None,
                       setting: str = "SYNTHTS_MAX_GENERATE_VALUES") -> np.ndarray:
    """Parse a regular nested JSON array of numbers; every failure names ``field``."""
    return parse_series_array(raw, field, max_depth, max_values, setting)[0]


def parse_series_array(raw: bytes | memoryview, field: str = "values", max_depth: int = 3,
                       max_values: int | None = None,
                       setting: str = "SYNTHTS_MAX_GENERATE_VALUES", *, ragged: bool = False
                       ) -> tuple[np.ndarray, np.ndarray | None]:
    """(values, lengths): a nested JSON array of numbers; ``ragged``: series (innermost
    arrays) of different lengths are padded with NaN and ``lengths`` (series,) gives each
    one's (None when they are all equal). Every failure names ``field``."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    bad = _REFUSED[buf]  # one byte-sized mask at a time: the body may be 64 MiB
    if bad.any():
        at = int(np.argmax(bad))
        snippet = bytes(buf[at:at + 12]).decode("utf-8", "replace")
        raise BadInputError(field, f"holds something that is not a number at byte {at} "
                            f"({snippet!r}); booleans, strings and NaN are refused (null is "
                            "a missing point)", allowed=_EXPECTED)
    del bad
    _check_nulls(buf, field)
    brackets = np.flatnonzero(_BRACKET[buf])
    if not len(brackets) or buf[brackets[0]] != _OPEN:
        raise BadInputError(field, "is not an array", allowed=_EXPECTED)
    step = np.where(buf[brackets] == _OPEN, 1, -1).astype(np.int64)
    depth = np.cumsum(step)  # depth after each bracket
    deepest = int(depth.max())
    if deepest > max_depth:
        raise BadInputError(field, f"is nested {deepest} levels deep",
                            allowed=f"at most {max_depth} levels: {_EXPECTED}")
    if depth.min() < 0 or depth[-1] != 0 or (depth[:-1] == 0).any():
        raise BadInputError(field, "has unbalanced brackets", allowed=_EXPECTED)
    outside = np.concatenate([buf[:brackets[0]], buf[brackets[-1] + 1:]])
    if not _SPACE[outside].all():
        raise BadInputError(field, "has text outside its array", allowed=_EXPECTED)
    n_commas = int(np.count_nonzero(buf == _COMMA))
    if max_values is not None and n_commas + 1 > max_values:
        raise LimitExceededError(f"{field} (values in the upload)", n_commas + 1, max_values,
                                 setting)
    shape, leaves = _shape(buf, brackets, step, depth, deepest, field, ragged and deepest >= 2)
    total = int(np.prod(shape)) if leaves is None else int(leaves.sum())
    if leaves is not None and (leaves == 0).any():
        raise BadInputError(field, f"innermost array {int(np.argmax(leaves == 0))} is empty",
                            allowed="at least one value (null if missing) in every series")
    if total == 0:
        raise BadInputError(field, f"has shape {tuple(shape)}", allowed="at least one value")
    text = bytes(raw).translate(_BRACKETS_TO_SPACE)
    if b"n" in text:
        text = text.replace(b"null", b"nan ")  # same width; NumPy reads nan as NaN
    try:
        out = np.fromstring(text, dtype=np.float64, sep=",")  # C parser, no Python floats
    except ValueError:
        out = np.empty(0)
    if out.size != total:
        raise BadInputError(field, "holds a malformed number or a missing comma",
                            allowed=_EXPECTED)
    if leaves is None:
        return out.reshape(shape), None
    padded = np.full((len(leaves), shape[-1]), np.nan)
    padded[np.arange(shape[-1])[None, :] < leaves[:, None]] = out  # row-major: series order
    per_series = leaves.reshape(shape[0], -1)
    if (per_series != per_series[:, :1]).any():
        s = int(np.flatnonzero((per_series != per_series[:, :1]).any(axis=1))[0])
        raise BadInputError(field, f"series {s} has channels of different lengths "
                            f"({per_series[s].tolist()})", allowed="the same length in "
                            "every channel of a series (series may differ)")
    return padded.reshape(shape), per_series[:, 0].astype(np.int64)


_BRACKETS_TO_SPACE = bytes.maketrans(b"[]", b"  ")


def _check_nulls(buf: np.ndarray, field: str) -> None:
    """Every ``n``, ``u`` and ``l`` belongs to a whole ``null`` standing alone between
    separators (``nul``, ``nulll``, ``1null`` or ``-null`` are refused, never read as NaN)."""
    mask = _NUL_LETTER[buf]  # one byte-sized pass; nothing more when there is no null
    if not mask.any():
        return
    letters = np.flatnonzero(mask)
    del mask
    starts = np.flatnonzero(buf[:len(buf) - 3] == ord("n")) if len(buf) >= 4 else \
        np.empty(0, np.int64)
    whole = starts[(buf[starts + 1] == ord("u")) & (buf[starts + 2] == ord("l"))
                   & (buf[starts + 3] == ord("l"))]
    before = np.where(whole > 0, buf[np.maximum(whole - 1, 0)], ord(" "))
    after = np.where(whole + 4 < len(buf), buf[np.minimum(whole + 4, len(buf) - 1)], ord(" "))
    alone = _SEPARATOR[before] & _SEPARATOR[after]
    if len(letters) != 4 * len(whole) or not alone.all():
        covered = np.zeros(len(buf), bool)
        for k in range(4):
            covered[whole[alone] + k] = True
        at = int(letters[~covered[letters]][0]) if (~covered[letters]).any() else \
            int(whole[~alone][0])
        snippet = bytes(buf[at:at + 12]).decode("utf-8", "replace")
        raise BadInputError(field, f"holds something that is not a number at byte {at} "
                            f"({snippet!r}); a missing point is written null",
                            allowed=_EXPECTED)


_NUL_LETTER = np.zeros(256, dtype=bool)
_NUL_LETTER[[ord("n"), ord("u"), ord("l")]] = True
_SEPARATOR = np.zeros(256, dtype=bool)
for _c in b",[] \t\r\n":
    _SEPARATOR[_c] = True


def _shape(buf: np.ndarray, brackets: np.ndarray, step: np.ndarray, depth: np.ndarray,
           deepest: int, field: str, ragged: bool = False
           ) -> tuple[list[int], np.ndarray | None]:
    """(children per node at each level, None); every node of a level must have the same
    count. ``ragged``: the innermost arrays may differ: (shape with the longest last, the
    length of each innermost array), or None as the second when they are all equal."""
    opens = step == 1
    open_depth = depth[opens]  # depth of each node opened
    shape: list[int] = []
    for level in range(1, deepest):
        parents = np.cumsum(open_depth == level)  # index (1-based) of the enclosing node
        kids = parents[open_depth == level + 1]
        n_parents = int(np.count_nonzero(open_depth == level))
        counts = np.bincount(kids, minlength=n_parents + 1)[1:]
        if len(counts) and (counts != counts[0]).any():
            raise BadInputError(field, f"is ragged at level {level}", allowed="equal lengths "
                                "in every series and channel")
        shape.append(int(counts[0]) if len(counts) else 0)
    # innermost arrays: numbers per array = commas inside + 1 (0 for "[]"); the comma
    # positions cost 8 bytes per value, like the result (a reduceat would widen every byte)
    leaf = np.flatnonzero(opens)[open_depth == deepest]  # index into brackets
    commas = np.flatnonzero(buf == _COMMA)
    inside = np.searchsorted(commas, brackets[leaf + 1]) - np.searchsorted(commas, brackets[leaf])
    empty = brackets[leaf + 1] - brackets[leaf] == 1
    lengths = np.where(empty, 0, inside + 1)
    if len(lengths) and (lengths != lengths[0]).any():
        if ragged:
            shape.append(int(lengths.max()))
            return shape, lengths.astype(np.int64)
        raise BadInputError(field, f"is ragged at level {deepest}", allowed="equal lengths "
                            "in every series and channel")
    shape.append(int(lengths[0]) if len(lengths) else 0)
    return shape, None
