"""A JSON array of numbers (``[[1, 2], [3, 4]]``, up to 3 levels) straight into a float64
NumPy array, without a Python list or float per value.

The bytes are checked to hold only numbers, commas, brackets and white space (so ``true``,
``null``, strings, ``NaN`` are refused, never read as 1.0/0.0), nesting is measured on the
brackets alone (so 2000 levels cost nothing and raise no RecursionError), the shape comes from
counting commas per innermost array, and the numbers are parsed by NumPy's C text reader.
"""

from __future__ import annotations

import numpy as np

from synthts_core.errors import BadInputError, LimitExceededError

_ALLOWED = np.zeros(256, dtype=bool)
for _c in b"0123456789+-.eE,[] \t\r\n":
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
    buf = np.frombuffer(raw, dtype=np.uint8)
    bad = _REFUSED[buf]  # one byte-sized mask at a time: the body may be 64 MiB
    if bad.any():
        at = int(np.argmax(bad))
        snippet = bytes(buf[at:at + 12]).decode("utf-8", "replace")
        raise BadInputError(field, f"holds something that is not a number at byte {at} "
                            f"({snippet!r}); booleans, null, strings and NaN are refused",
                            allowed=_EXPECTED)
    del bad
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
    shape = _shape(buf, brackets, step, depth, deepest, field)
    total = int(np.prod(shape))
    if total == 0:
        raise BadInputError(field, f"has shape {tuple(shape)}", allowed="at least one value")
    text = bytes(raw).translate(_BRACKETS_TO_SPACE)
    try:
        out = np.fromstring(text, dtype=np.float64, sep=",")  # C parser, no Python floats
    except ValueError:
        out = np.empty(0)
    if out.size != total:
        raise BadInputError(field, "holds a malformed number or a missing comma",
                            allowed=_EXPECTED)
    return out.reshape(shape)


_BRACKETS_TO_SPACE = bytes.maketrans(b"[]", b"  ")


def _shape(buf: np.ndarray, brackets: np.ndarray, step: np.ndarray, depth: np.ndarray,
           deepest: int, field: str) -> list[int]:
    """(children per node at each level); every node of a level must have the same count."""
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
        raise BadInputError(field, f"is ragged at level {deepest}", allowed="equal lengths "
                            "in every series and channel")
    shape.append(int(lengths[0]) if len(lengths) else 0)
    return shape
