"""Fixtures for the signals plugin tests: registries holding only the timesynth plugin (so a
broken neighbour plugin cannot fail these tests) and one BLAS thread for timesynth runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from synthts_timesynth import plugin as timesynth_plugin

from synthts_core.registry import Registries


@pytest.fixture
def registries(synthts_pm) -> Registries:
    synthts_pm.register(timesynth_plugin, name="timesynth")
    return synthts_pm.registries


@pytest.fixture
def generators(registries) -> dict:
    return {g.name: g for g in registries.signals}


@pytest.fixture
def one_blas_thread() -> Iterator[None]:
    """timesynth draws every GP series through a small SVD; a multi-threaded BLAS on a busy
    machine makes each one 100x slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(1):
        yield
