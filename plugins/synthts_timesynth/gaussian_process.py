"""Gaussian-process signals with TimeSynth's seven covariance functions.

One covariance factor per kernel and time grid serves the whole batch: ``x = mean + z @ F.T``.
Constant and Linear kernels have rank 1 and 2, so their factor is written down exactly; the
others use a Cholesky factor with the smallest diagonal jitter that makes it succeed (an
eigen-decomposition is the last resort). Per-series grids (irregular sampling) are grouped by
unique grid and factored in batches with a stacked Cholesky.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import gammaln, kve

from synthts_core.errors import BadInputError
from synthts_core.schema import ParamSchema, choice_param, float_param
from synthts_timesynth.base import Generator

KERNELS = ("Constant", "Exponential", "SE", "RQ", "Linear", "Matern", "Periodic")
BIG = 1e6
GRID_BATCH = 32  # per-series grids factored together (memory: GRID_BATCH * length^2 floats)
JITTERS = (0.0, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4)


def covariance(kernel: str, t1: np.ndarray, t2: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
    """k(t1[..., i], t2[..., j]) for grids of shape (..., m) and (..., k)."""
    a, b = t1[..., :, None], t2[..., None, :]
    var, ls = p["variance"], p["lengthscale"]
    if kernel == "Constant":
        return np.full(np.broadcast_shapes(a.shape, b.shape), var)
    if kernel == "Linear":
        return var * (a - p["c"]) * (b - p["c"]) + p["offset"]
    dist = np.abs(a - b)
    if kernel == "Exponential":
        return var * np.exp(-np.power(dist / ls, p["gamma"]))
    if kernel == "SE":
        return var * np.exp(-np.square(dist) / (2.0 * ls * ls))
    if kernel == "RQ":
        alpha = p["alpha"]
        return var * np.power(1.0 + np.square(dist) / (2.0 * alpha * ls * ls), -alpha)
    if kernel == "Periodic":
        return var * np.exp(-2.0 * np.square(np.sin(np.pi * dist / p["p"])) / (ls * ls))
    if kernel == "Matern":
        nu = p["nu"]
        r = np.sqrt(2.0 * nu) * dist / ls
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # 2^(1-nu)/Gamma(nu) r^nu K_nu(r), in logs so large nu neither over- nor underflows
            log_k = ((1.0 - nu) * np.log(2.0) - gammaln(nu) + nu * np.log(r)
                     + np.log(kve(nu, r)) - r)
            out = var * np.exp(log_k)
        out[r == 0] = var
        return np.nan_to_num(out, nan=0.0, posinf=var)
    raise BadInputError("kernel", f"got {kernel!r}", allowed=", ".join(KERNELS))


def low_rank_factor(kernel: str, t: np.ndarray, p: Mapping[str, Any]) -> np.ndarray | None:
    """Exact factor F (..., m, r) with K = F F^T for the kernels of rank 1 or 2."""
    if kernel == "Constant":
        return np.full((*t.shape, 1), np.sqrt(p["variance"]))
    if kernel == "Linear":
        slope = np.sqrt(p["variance"]) * (t - p["c"])
        level = np.full_like(t, np.sqrt(p["offset"]))
        return np.stack([slope, level], axis=-1)
    return None


def psd_factor(cov: np.ndarray) -> np.ndarray:
    """Lower factor L (..., m, m) with L L^T ~= cov, adding the least jitter that works."""
    scale = float(np.max(np.diagonal(cov, axis1=-2, axis2=-1), initial=0.0)) or 1.0
    eye = np.eye(cov.shape[-1])
    for jitter in JITTERS:
        try:
            return np.linalg.cholesky(cov + (jitter * scale) * eye)
        except np.linalg.LinAlgError:
            continue
    values, vectors = np.linalg.eigh(cov)
    return vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]


def factor(kernel: str, t: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
    low = low_rank_factor(kernel, t, p)
    return low if low is not None else psd_factor(covariance(kernel, t, t, p))


class GaussianProcess(Generator):
    name = "gaussian_process"
    description = ("Gaussian process with mean `mean` and one of the kernels Constant, "
                   "Exponential (gamma-exponential), SE, RQ, Linear, Matern, Periodic.")
    schema = ParamSchema((
        choice_param("kernel", "SE", KERNELS, help="Covariance function."),
        float_param("mean", 0.0, -BIG, BIG, help="Mean of the process."),
        float_param("variance", 1.0, 0.0, BIG, low_exclusive=True,
                    help="Output variance sigma^2 (Linear: slope variance)."),
        float_param("lengthscale", 1.0, 0.0, BIG, low_exclusive=True,
                    help="Characteristic length (Exponential, SE, RQ, Matern, Periodic)."),
        float_param("gamma", 1.0, 0.0, 2.0, low_exclusive=True,
                    help="Exponential kernel exponent; 1 is Ornstein-Uhlenbeck, 2 is SE."),
        float_param("alpha", 1.0, 0.0, BIG, low_exclusive=True,
                    help="RQ scale mixture; large alpha tends to SE."),
        float_param("c", 0.0, -BIG, BIG, help="Linear kernel: time where the variance is least."),
        float_param("offset", 0.0, 0.0, BIG, help="Linear kernel: constant variance added."),
        float_param("nu", 2.5, 0.0, 100.0, low_exclusive=True,
                    help="Matern smoothness (0.5 exponential, 1.5, 2.5, large tends to SE)."),
        float_param("p", 1.0, 0.0, BIG, low_exclusive=True, help="Periodic kernel: period."),
    ))

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray:
        kernel = params["kernel"]
        times = np.asarray(times, dtype=np.float64)
        if times.ndim == 1 or (times.shape[0] > 0 and (times == times[0]).all()):
            f = factor(kernel, times if times.ndim == 1 else times[0], params)
            z = rng.standard_normal((n, f.shape[-1]))
            out = z @ f.T
            out += params["mean"]
            return out
        return self._per_series(n, times, params, rng)

    def _per_series(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                    rng: np.random.Generator) -> np.ndarray:
        kernel = params["kernel"]
        grids, inverse = np.unique(times, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        z = rng.standard_normal((n, times.shape[1]))
        out = np.empty((n, times.shape[1]))
        for start in range(0, len(grids), GRID_BATCH):
            batch = grids[start:start + GRID_BATCH]
            f = factor(kernel, batch, params)  # (b, m, r)
            for j in range(len(batch)):
                rows = np.flatnonzero(inverse == start + j)
                out[rows] = z[rows, : f.shape[-1]] @ f[j].T
        out += params["mean"]
        return out
