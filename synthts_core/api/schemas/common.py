"""Shared field types, paging metadata and the problem-details shape."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta, Struct

from synthts_core.domain import NAME_PATTERN

Name = Annotated[str, Meta(pattern=NAME_PATTERN.pattern, min_length=1, max_length=128,
                           description="1-128 letters, digits, '.', '_' or '-'")]
Label = Annotated[str, Meta(min_length=1, max_length=128)]
Seed = Annotated[int, Meta(ge=0, le=2**32 - 1)]
Tag = Annotated[str, Meta(min_length=1, max_length=64)]
Finite = Annotated[float, Meta(ge=-1e12, le=1e12)]


R = TypeVar("R")


def catalogue_read(info: Any, schema: type[R]) -> R:
    """A catalogue read model (``synthts_core.catalogue_items``) as its wire schema: the
    schema's fields read off the item by name, whatever else the item holds."""
    return msgspec.convert(info, schema, from_attributes=True)


FREE_FORM_DEPTH = 8
FREE_FORM_ITEMS = 10_000


def check_free_form(value: Any, field: str, max_depth: int = FREE_FORM_DEPTH,
                    max_items: int = FREE_FORM_ITEMS) -> None:
    """Bound a free-form JSON field (generator params, a search space): at most ``max_depth``
    levels of nesting and ``max_items`` values in all, so neither a deep document nor a huge
    one reaches the services (raised as ``ValueError``, which msgspec reports as a 422 at the
    field). Iterative, so the check itself never recurses."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > max_items:
            raise ValueError(f"{field}: has more than {max_items} values in all")
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else None
        if children is None:
            continue
        if depth >= max_depth:
            raise ValueError(f"{field}: is nested more than {max_depth} levels deep")
        stack.extend((child, depth + 1) for child in children)


class Problem(Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details. ``field``/``allowed`` name bad input, ``setting`` a limit."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    allowed: str | None = None
    setting: str | None = None
    limit: int | None = None
    requested: int | None = None
    errors: list[dict[str, str]] | None = None


class PageInfo(Struct, kw_only=True):
    total: int
    offset: int
    limit: int
    next_offset: int | None
    prev_offset: int | None

    @classmethod
    def of(cls, total: int, offset: int, limit: int) -> PageInfo:
        nxt = offset + limit if offset + limit < total else None
        prev = max(offset - limit, 0) if offset > 0 else None
        return cls(total=total, offset=offset, limit=limit, next_offset=nxt, prev_offset=prev)
