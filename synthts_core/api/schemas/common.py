"""Shared field types, paging metadata and the problem-details shape."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from synthts_core.domain import NAME_PATTERN

Name = Annotated[str, Meta(pattern=NAME_PATTERN.pattern, min_length=1, max_length=128,
                           description="1-128 letters, digits, '.', '_' or '-'")]
Label = Annotated[str, Meta(min_length=1, max_length=128)]
Seed = Annotated[int, Meta(ge=0, le=2**32 - 1)]
Tag = Annotated[str, Meta(min_length=1, max_length=64)]
Finite = Annotated[float, Meta(ge=-1e12, le=1e12)]


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
