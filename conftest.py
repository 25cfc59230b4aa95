"""How the whole suite runs in parallel (pytest-xdist: ``-n auto --dist loadfile``).

* As many workers as the cores plus one, as memory allows (``pytest_xdist_auto_num_workers``).

* One torch thread per test process: the workers already use every core, and a torch that
  also takes every core per process oversubscribes them. Children (CLI subprocesses, Ray
  workers) inherit it through ``OMP_NUM_THREADS``. A test that checks the product's own
  thread setting sets the threads itself and is unaffected.
* Slow modules first: xdist hands out whole modules (``loadfile``: a module's fixtures run
  once), in collection order. A long module left to the end runs alone on one
  worker while the others idle; handed out first, the short modules fill in around it. Whole
  modules move, each in its own order, so a run without xdist sets every module-scoped
  fixture up once too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

WORKER_MEMORY_GIB = 3.0
"""What one worker may need at its peak: its Python with torch and Ray's client, its local
Ray (GCS, raylet, two trial processes), an MLflow server and a MongoDB-wire server."""


def _memory_gib() -> float:
    """This machine's memory, or the cgroup's limit when lower (a CI container)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return total / 2**30


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the cores, as memory allows. Much of a test's time is
    spent waiting (a server starting, a subprocess importing, a trial polled), and a third
    worker on two cores fills it; the ``--maxprocesses`` cap still applies."""
    cores = os.cpu_count() or 1
    return max(1, min(cores + 1, int(_memory_gib() // WORKER_MEMORY_GIB)))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = "1"


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules whose every test is slow (the end-to-end runs), then modules with a slow test,
    then the rest; xdist must keep this order (``--no-loadscope-reorder``: by default it
    hands out the modules with the most tests first, which left the main job's end-to-end
    module, three tests and two minutes, to start near the end)."""
    slow: dict[str, list[bool]] = {}
    for item in items:
        slow.setdefault(_module(item), []).append(item.get_closest_marker("slow") is not None)
    rank = {module: 0 if all(flags) else 1 if any(flags) else 2 for module, flags in slow.items()}
    items.sort(key=lambda item: rank[_module(item)])  # stable: each module keeps its order
