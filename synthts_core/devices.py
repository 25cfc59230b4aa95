"""The torch device a setting names (``SYNTHTS_DEVICE``), for services and model plugins alike.

A core leaf module: plugins import it instead of a service. torch is imported only when called.
"""

from __future__ import annotations

from synthts_core.errors import BadInputError


def resolve_device(setting: str) -> str:
    """``auto`` is CUDA when there is one, else the CPU; an explicit device must exist."""
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise BadInputError("SYNTHTS_DEVICE", "cuda was asked for but no CUDA device is visible",
                            allowed="auto, cpu")
    if setting == "mps" and not torch.backends.mps.is_available():
        raise BadInputError("SYNTHTS_DEVICE", "mps was asked for but is not available",
                            allowed="auto, cpu")
    return setting
