"""Euclidean distances between whole series: the one implementation the memorisation guard and
the privacy audit (``privacy.py``) share.

Series are compared as flat vectors after one affine map per channel, the training set's
(``standardised``), so every channel weighs alike whatever its units, and a synthetic, unseen or
training series is measured in the same space. Distances are computed in blocks of query rows so
memory stays bounded by ``BLOCK`` x the reference set.
"""

from __future__ import annotations

import numpy as np

BLOCK = 256  # query series per distance block (bounds memory to BLOCK x reference series)


def standardised(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """``train`` and ``others`` (each (n, c, L)) mapped by the training set's per-channel mean
    and std and flattened to (n, c * L) rows; a constant channel keeps scale 1."""
    mu = train.mean(axis=(0, 2), keepdims=True)
    sd = train.std(axis=(0, 2), keepdims=True)
    sd[sd < 1e-12] = 1.0
    return [((x - mu) / sd).reshape(len(x), -1) for x in (train, *others)]


def _squared_blocks(query: np.ndarray, reference: np.ndarray):
    """(start, squared distances of query rows ``start:start + BLOCK`` to every reference row),
    block by block: the one loop ``pairwise``, ``nearest_two`` and ``nearest`` reduce."""
    ref_sq = (reference * reference).sum(axis=1)
    for start in range(0, len(query), BLOCK):
        q = query[start:start + BLOCK]
        yield start, (q * q).sum(axis=1)[:, None] + ref_sq[None, :] - 2.0 * (q @ reference.T)


def pairwise(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(len(query), len(reference)) Euclidean distances between rows."""
    out = np.empty((len(query), len(reference)))
    for start, d2 in _squared_blocks(query, reference):
        out[start:start + len(d2)] = np.sqrt(np.maximum(d2, 0.0))
    return out


def nearest_two(query: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance of each query row to its closest and second-closest reference row
    (rows are flattened series)."""
    first, second = np.empty(len(query)), np.empty(len(query))
    for start, d2 in _squared_blocks(query, reference):
        two = np.sqrt(np.maximum(np.partition(d2, 1, axis=1)[:, :2], 0.0))
        two.sort(axis=1)
        first[start:start + len(d2)], second[start:start + len(d2)] = two[:, 0], two[:, 1]
    return first, second


def nearest(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Distance of each query row to its closest reference row (the DCR when ``reference`` is
    the training set; the attack score of ``privacy.MembershipInference`` when it is the
    synthetic set)."""
    out = np.empty(len(query))
    for start, d2 in _squared_blocks(query, reference):
        out[start:start + len(d2)] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def distance_ratio(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """DCR / distance to the second closest; 1 where both are 0 (duplicated training series)."""
    return np.divide(first, second, out=np.ones_like(first), where=second > 0)
