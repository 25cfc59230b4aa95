"""The conformance suite's old name: ``GanArchitectureConformance`` is the model suite, for
plugins written against it (``synthts_core.testing.conformance.model``)."""

from synthts_core.testing.conformance.model import (
    ModelArchitectureConformance as GanArchitectureConformance,
)

__all__ = ["GanArchitectureConformance"]
