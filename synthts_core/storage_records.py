"""Stored records read back by every storage backend: decoding that names the record at fault.

A record that cannot be decoded (written by an older bug, edited by hand) must not take a whole
listing down: a listing reports that one row with its error, while reading the record itself
is a ``CorruptDataError`` naming it. Deleting it keeps working (no decoding needed).
"""

from __future__ import annotations

from typing import Any

import msgspec

from synthts_core.domain import DatasetMeta, TrainingJob
from synthts_core.storage_support import CorruptDataError

_meta_decoder = msgspec.json.Decoder(DatasetMeta)
_job_decoder = msgspec.json.Decoder(TrainingJob)


class UnreadableDatasetMeta(DatasetMeta, kw_only=True):
    """A listed dataset whose stored metadata cannot be decoded: listed with ``error`` (and
    what the index columns still tell) instead of failing the whole listing."""

    error: str


def _why(exc: Exception) -> str:
    return f"its stored metadata cannot be read ({exc}); delete it and store it again"


def decode_meta(raw: bytes | str, name: str) -> DatasetMeta:
    """Stored metadata of one dataset; a record that cannot be decoded is a ``CorruptDataError``
    that names the dataset (not a bare decoding error)."""
    try:
        return _meta_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CorruptDataError(f"dataset {name!r}: {_why(exc)}") from None


def listed_meta(raw: bytes | str, name: str, n_series: int = 0, **known: Any) -> DatasetMeta:
    """One row of a listing: the metadata, or an ``UnreadableDatasetMeta`` carrying the error."""
    try:
        return _meta_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return UnreadableDatasetMeta(name=name, n_series=int(n_series), n_channels=0, length=0,
                                     error=_why(exc), **known)


def decode_job(raw: bytes | str, job_id: str) -> TrainingJob:
    try:
        return _job_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CorruptDataError(f"training job {job_id!r}: {_why(exc)}") from None


def listed_job(raw: bytes | str, job_id: str) -> TrainingJob:
    """One row of a job listing; an unreadable record is listed as a failed job whose error
    says why, instead of failing the whole listing."""
    try:
        return _job_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        from synthts_core.domain import JobSpec

        return TrainingJob(id=job_id, spec=JobSpec(dataset="?"), status="failed",
                           errors=[_why(exc)])
