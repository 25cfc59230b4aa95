"""One epoch of training data, prepared on the device in a handful of batched operations.

The seed rolled every series in a DataLoader worker and copied each batch to the device; here
the whole set lives on the device, an epoch is one permutation and one ``gather`` that applies a
different circular shift to every series, and the result is viewed as blocks of batches.
"""

from __future__ import annotations

import torch

from synthts_gan._errors import BadInputError


def circular_shift(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Roll each series of ``x`` (n, c, L) right by its own ``shifts[i]`` points, in one gather.

    ``out[i, :, t] = x[i, :, (t - shifts[i]) mod L]``, the same as ``torch.roll(x[i], s, -1)``.
    """
    n, c, length = x.shape
    t = torch.arange(length, device=x.device)
    index = (t[None, :] - shifts[:, None]).remainder(length)
    return torch.gather(x, 2, index[:, None, :].expand(n, c, length))


def epoch_blocks(values: torch.Tensor, labels: torch.Tensor | None, batch_size: int,
                 block: int, rng: torch.Generator, augment: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Shuffled, shifted data as (n_blocks, block, batch, c, L) and labels (n_blocks, block,
    batch). The remainder that does not fill a block is left out of this epoch (it is in the
    next one's permutation), so every step has the same static shapes."""
    n = values.shape[0]
    per_block = batch_size * block
    n_blocks = n // per_block
    if n_blocks == 0:
        raise BadInputError("batch_size", f"{n} series cannot fill one block of {block} x "
                            f"{batch_size}", allowed=f"at most {n // block}")
    used = n_blocks * per_block
    perm = torch.randperm(n, generator=rng, device=values.device)[:used]
    data = values.index_select(0, perm)
    if augment:
        shifts = torch.randint(0, values.shape[-1], (used,), generator=rng, device=values.device)
        data = circular_shift(data, shifts)
    data = data.view(n_blocks, block, batch_size, *values.shape[1:])
    lab = None if labels is None else labels.index_select(0, perm).view(n_blocks, block,
                                                                        batch_size)
    return data, lab


def fit_batch(n: int, batch_size: int, block: int) -> int:
    """The batch size actually used: the requested one, shrunk for a set too small to fill one
    block (BatchNorm needs at least 2 series per batch)."""
    if n < 2 * block:
        raise BadInputError(
            "dataset", f"need at least {2 * block} series to train (batches of 2 for {block} "
            f"step(s)); got {n}", allowed=f"at least {2 * block} series, or a smaller n_critic")
    return min(batch_size, n // block)
