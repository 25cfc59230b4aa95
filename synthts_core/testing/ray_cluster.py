"""A local Ray for the tests of a session: two CPUs, loopback only, no dashboard.

Started once per session (Ray takes seconds to start); the training service sees it running
and uses it without shutting it down.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def local_ray() -> Iterator[str]:
    """Yields the cluster's address (for a subprocess that should join it)."""
    import ray

    if ray.is_initialized():  # somebody else's: use, never stop
        yield ray.get_runtime_context().gcs_address
        return
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _node_ip_address="127.0.0.1")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
