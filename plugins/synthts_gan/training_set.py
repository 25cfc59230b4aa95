"""The training set on the device: uploaded once, reused by every later epoch on the same arrays.

A NaN is a missing point (the architecture declares ``supports_missing``): it becomes 0 (the
middle of the range) and is never read as a value; a mask (1 observed, 0 missing) travels with
the values, and joined with them as 2c channels so an epoch's shuffle and shifts move both
together with the draws a complete set makes. Complete data has no mask at all, so no masking
code runs.
"""

from __future__ import annotations

import numpy as np
import torch

from synthts_gan._errors import BadInputError
from synthts_gan.config import GanConfig


def data_key(values: np.ndarray, labels: np.ndarray | None) -> tuple:
    """What tells the arrays of one training set from another's (their memory and shape)."""
    return (values.__array_interface__["data"][0], values.shape,
            None if labels is None else labels.__array_interface__["data"][0])


def check_shape(values: np.ndarray, config: GanConfig) -> None:
    if values.ndim != 3 or values.shape[1:] != (config.n_channels, config.length):
        raise BadInputError("values", f"got shape {values.shape}",
                            allowed=f"(n, {config.n_channels}, {config.length})")


def observed_mask(values: np.ndarray) -> np.ndarray | None:
    """Where ``values`` are observed (bool, their shape), or None when every point is. An
    infinite value is refused (the core refuses it at import; it would poison the weights)."""
    missing = np.isnan(values)
    if np.isinf(values).any():
        where = tuple(int(i) for i in np.argwhere(np.isinf(values))[0])
        raise BadInputError("values", f"infinite value at (series, channel, point) {where}",
                            allowed="finite values, NaN for a missing point")
    return ~missing if missing.any() else None


def upload_values(values: np.ndarray, observed: np.ndarray | None, device: torch.device
                  ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(values with 0 at missing points, mask, values and mask joined as 2c channels) on
    ``device``; mask and joined None for complete data (``observed`` None)."""
    out = torch.as_tensor(np.ascontiguousarray(values, np.float32)).to(device)
    if observed is None:
        return out, None, None
    seen = torch.as_tensor(observed).to(device)
    out = torch.where(seen, out, torch.zeros_like(out))
    mask = seen.to(out.dtype)
    return out, mask, torch.cat((out, mask), dim=1)


def upload_labels(labels: np.ndarray | None, n: int, device: torch.device) -> torch.Tensor:
    """Class indices on ``device`` (all 0 when none are given)."""
    lab = np.zeros(n, np.int64) if labels is None else labels
    return torch.as_tensor(np.asarray(lab, np.int64)).to(device)
