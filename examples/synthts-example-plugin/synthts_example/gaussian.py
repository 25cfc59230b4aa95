"""A model family from a third party: ``pca_gaussian``, a class-conditional linear Gaussian.

What it shows: a family needs neither torch nor a GPU. It is an architecture object (``name``,
``description``, ``conditional``, a ``ParamSchema`` ``space``, ``build(config, device)``) plus
the family's declarations the core reads (``family``, ``scaling``, ``conformance_params``), and
``build`` returns a ``GenerativeModel`` (``synthts_core.interfaces``) written in NumPy, whose
weights and checkpoints are safetensors bytes (``safetensors.numpy``).

The model is probabilistic PCA (Tipping & Bishop 1999), one per class. A series is flattened
to a vector of ``D = channels * length`` points (scaled to [-1, 1] by the core: ``scaling =
"minmax"``). Per class ``c`` it keeps

- ``mean[c]`` (D,): the per-point mean of the class's series;
- ``components[c]`` (k, D): the top ``k`` principal directions of the residuals;
- ``scales[c]`` (k,): the spread along each, ``sqrt(eigenvalue - noise_var)``;
- ``noise_std[c]``: the white noise that stands for the variance the ``k`` directions leave,
  ``noise_var`` = the mean of the discarded eigenvalues (``white_noise``; otherwise 0 and the
  scales are ``sqrt(eigenvalue)``).

A series is ``mean + (z[:k] * scales) @ components + noise_std * z[k:]``, clipped to [-1, 1].
``z`` is standard normal with ``latent_dim = k`` (+ ``D`` with ``white_noise``), so ``z`` alone
fixes the series and nothing is drawn after it (``sampling_noise`` is None). Label weights
``w`` (n, n_classes) mix the classes linearly: ``sum_c w_c * series_c(z)``, so a one-hot row
is that class's series and a 50/50 row lies between two classes.

Training has a closed form: every ``train_epoch`` refits each class on the series it is given
(an SVD of the residuals; a seeded randomized SVD when both the class and ``D`` are large), so
the fit is deterministic for the same data and later epochs change nothing. A class absent from
the data keeps what it had. Before the first fit a model samples from zero means and a random
orthonormal basis drawn from the config's seed with small scales, so two seeds differ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from synthts_core.errors import BadInputError
from synthts_core.schema import ParamSchema, bool_param, int_param

FORMAT = "synthts-example-pca-gaussian/1"
INITIAL_SCALE = 0.1  # spread of the random basis a model samples from before its first fit
EXACT_SVD_LIMIT = 1024  # above this min(series of a class, D), a seeded randomized SVD
OVERSAMPLE = 10  # randomized SVD: extra directions
POWER_ITERATIONS = 4  # randomized SVD: subspace iterations

SPACE = ParamSchema(
    (
        int_param(
            "components",
            8,
            1,
            256,
            help="Principal components kept per class (k): the directions in which the "
            "series of a class vary together. More follow the data more closely and "
            "memorise more.",
        ),
        bool_param(
            "white_noise",
            True,
            help="Model the variance the components leave as per-point white noise "
            "(probabilistic PCA); off = samples lie in the k-dimensional subspace.",
        ),
    )
)

CONFORMANCE_PARAMS: dict[str, Any] = {"components": 4}


def top_components(
    residuals: np.ndarray, k: int, seed: Sequence[int], exact_limit: int = EXACT_SVD_LIMIT
) -> tuple[np.ndarray, np.ndarray]:
    """The top ``min(k, rank)`` right singular vectors (rows) of ``residuals`` (n, D) and their
    singular values, largest first, each vector's largest entry positive (so the result is
    deterministic). Exact SVD while ``min(n, D) <= exact_limit``, else a randomized range
    finder with power iterations (Halko et al. 2011) seeded by ``seed`` (non-negative ints)."""
    n, d = residuals.shape
    if min(n, d) <= exact_limit:
        _, s, vt = np.linalg.svd(residuals, full_matrices=False)
    else:
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(residuals @ rng.standard_normal((d, min(k + OVERSAMPLE, d))))
        for _ in range(POWER_ITERATIONS):
            q, _ = np.linalg.qr(residuals.T @ q)
            q, _ = np.linalg.qr(residuals @ q)
        _, s, vt = np.linalg.svd(q.T @ residuals, full_matrices=False)
    m = min(k, len(s))
    s, vt = s[:m], vt[:m]
    flip = np.sign(vt[np.arange(m), np.abs(vt).argmax(axis=1)])
    return s, vt * flip[:, None]


class PcaGaussianModel:
    """One fitted (or fresh) ``pca_gaussian`` model: the ``GenerativeModel`` contract and
    ``BatchableModel`` (it draws ``z`` ahead and nothing after)."""

    latent_kind = "latent"
    sample_cost = 1.0  # one matrix product per series, cheaper than a GAN pass

    def __init__(
        self,
        *,
        length: int,
        n_channels: int,
        n_classes: int,
        components: int,
        white_noise: bool,
        seed: int,
    ) -> None:
        self.length, self.n_channels = length, n_channels
        self.n_classes = n_classes
        self.k, self.white_noise, self.seed = components, white_noise, seed
        self.dim = n_channels * length
        groups = max(n_classes, 1)  # an unconditional model is one class
        rng = np.random.default_rng(seed % 2**64)
        basis = np.zeros((groups, self.k, self.dim), np.float32)
        m = min(self.k, self.dim)
        for c in range(groups):
            q, _ = np.linalg.qr(rng.standard_normal((self.dim, m)))
            basis[c, :m] = q.T
        self.mean = np.zeros((groups, self.dim), np.float32)
        self.components = basis
        self.scales = np.zeros((groups, self.k), np.float32)
        self.scales[:, :m] = INITIAL_SCALE
        self.noise_std = np.zeros(groups, np.float32)
        self.epochs_done = 0

    # ------------------------------------------------------------------ declarations
    @property
    def conditional(self) -> bool:
        """Class-conditional when the config has classes; without, one class and no labels."""
        return self.n_classes > 0

    @property
    def latent_dim(self) -> int:
        """``k`` component weights, then (``white_noise``) one white-noise value per point."""
        return self.k + (self.dim if self.white_noise else 0)

    # ------------------------------------------------------------------ training
    def train_epoch(self, values: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
        """Refit every class present in ``values`` (n, channels, length); returns the mean
        squared residual the components leave per point, the share of the within-class
        variance they explain, and the series seen."""
        x = np.asarray(values)
        if x.ndim != 3 or x.shape[1:] != (self.n_channels, self.length):
            raise BadInputError(
                "values",
                f"got shape {x.shape}",
                allowed=f"(n, {self.n_channels}, {self.length})",
            )
        if len(x) < 2:
            raise BadInputError(
                "dataset", f"need at least 2 series to train; got {len(x)}", allowed=">= 2"
            )
        x = x.reshape(len(x), self.dim).astype(np.float64)
        if not np.isfinite(x).all():
            raise BadInputError("values", "hold NaN or infinite values", allowed="finite")
        groups = self._class_indices(labels, len(x))
        left, total, counted = 0.0, 0.0, 0
        for c, rows in enumerate(groups):
            if len(rows) == 0:
                continue  # a class absent from this data keeps what it had
            leftover, spread = self._fit_class(c, x[rows])
            left += leftover
            total += spread
            counted += len(rows)
        self.epochs_done += 1
        return {
            "residual_mse": left / (counted * self.dim),
            "explained": 1.0 - left / total if total > 0 else 1.0,
            "samples": float(len(x)),
        }

    def _class_indices(self, labels: np.ndarray | None, n: int) -> list[np.ndarray]:
        if not self.conditional:
            if labels is not None:
                raise BadInputError(
                    "labels", "this model has no classes: give no labels", allowed="no labels"
                )
            return [np.arange(n)]
        if labels is None:  # a conditional model trained without labels: every class alike
            return [np.arange(n)] * self.n_classes
        lab = np.asarray(labels).reshape(-1)
        if (
            lab.shape != (n,)
            or lab.dtype.kind not in "iu"
            or lab.min() < 0
            or (lab.max() >= self.n_classes)
        ):
            raise BadInputError(
                "labels", "must be one class index per series", allowed=f"0..{self.n_classes - 1}"
            )
        return [np.flatnonzero(lab == c) for c in range(self.n_classes)]

    def _fit_class(self, c: int, x: np.ndarray) -> tuple[float, float]:
        """Fit class ``c`` to its series ``x`` (n_c, D); returns (residual sum of squares
        left by the components, total sum of squares about the mean)."""
        mean = x.mean(axis=0)
        resid = x - mean
        total = float(np.square(resid).sum())
        self.mean[c] = mean
        self.components[c] = 0.0
        self.scales[c] = 0.0
        self.noise_std[c] = 0.0
        if len(x) < 2:  # one series: its mean is all there is
            return 0.0, total
        s, vt = top_components(resid, self.k, seed=(self.seed % 2**64, c))
        m = len(s)
        eig = s**2 / (len(x) - 1)
        kept = float(np.square(s).sum())
        leftover = max(total - kept, 0.0)
        noise_var = leftover / (len(x) - 1) / (self.dim - m) if self.dim > m else 0.0
        if self.white_noise:
            self.scales[c, :m] = np.sqrt(np.maximum(eig - noise_var, 0.0))
            self.noise_std[c] = np.sqrt(noise_var)
        else:
            self.scales[c, :m] = np.sqrt(eig)
        self.components[c, :m] = vt
        return leftover, total

    # ------------------------------------------------------------------ sampling
    def _rng(self, seed: int | None, stream: int) -> np.random.Generator:
        """Stream 0 draws ``z``, stream 1 the classes: either can be skipped (``z`` or labels
        given) without moving the other."""
        base = self.seed + 1 if seed is None else int(seed)
        return np.random.default_rng([base % 2**64, stream])

    def sampling_latents(self, n: int, seed: int | None = None) -> np.ndarray:
        """The ``z`` (n, latent_dim) that ``generate(n, seed=seed)`` draws."""
        return self._rng(seed, 0).standard_normal((self._count(n), self.latent_dim))

    def sampling_noise(self, n: int, seed: int | None = None) -> None:
        """All randomness is in ``z``: nothing is drawn after it."""
        return None

    @staticmethod
    def _count(n: Any) -> int:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise BadInputError("n", f"got {n!r}", allowed="an integer >= 0")
        return int(n)

    def _weights(
        self,
        n: int,
        labels: np.ndarray | None,
        label_weights: np.ndarray | None,
        seed: int | None,
    ) -> np.ndarray:
        """(n, classes) mixing weights: one-hot labels, the caller's weights, or classes
        drawn from ``seed``."""
        k = self.n_classes
        if not self.conditional:
            for field, given in (("labels", labels), ("label_weights", label_weights)):
                if given is not None:
                    raise BadInputError(
                        field, "this model has no classes: give no labels", allowed="no labels"
                    )
            return np.ones((n, 1))
        if labels is not None and label_weights is not None:
            raise BadInputError(
                "label_weights", "give labels or label_weights, not both", allowed="one of them"
            )
        if label_weights is not None:
            w = np.asarray(label_weights, np.float64)
            if w.shape != (n, k) or not np.isfinite(w).all():
                raise BadInputError(
                    "label_weights",
                    f"got shape {w.shape}: one finite row of class weights per series",
                    allowed=f"shape ({n}, {k})",
                )
            return w
        if labels is None:
            lab = self._rng(seed, 1).integers(0, k, n)
        else:
            lab = np.asarray(labels)
            if lab.ndim == 0 or lab.dtype.kind not in "iu":
                raise BadInputError(
                    "labels", f"got {labels!r}: class indices", allowed=f"0..{k - 1}"
                )
            lab = lab.reshape(-1)
            if lab.shape != (n,) or (n and (lab.min() < 0 or lab.max() >= k)):
                raise BadInputError(
                    "labels", f"must be {n} class indices, one per series", allowed=f"0..{k - 1}"
                )
        return np.eye(k)[lab]

    def generate(
        self,
        n: int,
        labels: np.ndarray | None = None,
        z: np.ndarray | None = None,
        seed: int | None = None,
        label_weights: np.ndarray | None = None,
        noise: np.ndarray | None = None,
    ) -> np.ndarray:
        """``n`` series, float32 (n, channels, length) in [-1, 1]: the mix of the classes'
        ``mean + (z[:k] * scales) @ components + noise_std * z[k:]``."""
        n = self._count(n)
        if noise is not None:
            raise BadInputError(
                "noise",
                "this model draws no noise after z (sampling_noise is None)",
                allowed="no noise",
            )
        if z is None:
            zs = self.sampling_latents(n, seed)
        else:
            zs = np.asarray(z, np.float64)
            if zs.shape != (n, self.latent_dim) or not np.isfinite(zs).all():
                raise BadInputError(
                    "z",
                    f"got shape {zs.shape}: z must be finite, (n, latent_dim)",
                    allowed=f"shape ({n}, {self.latent_dim})",
                )
        w = self._weights(n, labels, label_weights, seed)
        coef, white = zs[:, : self.k], zs[:, self.k :]
        out = np.zeros((n, self.dim))
        for c in range(w.shape[1]):
            wc = w[:, c : c + 1]
            if not wc.any():
                continue
            part = self.mean[c] + (coef * self.scales[c]) @ self.components[c]
            if self.white_noise:
                part += float(self.noise_std[c]) * white
            out += wc * part
        np.clip(out, -1.0, 1.0, out=out)
        return out.reshape(n, self.n_channels, self.length).astype(np.float32)

    # ------------------------------------------------------------------ persistence
    def _tensors(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.mean,
            "components": self.components,
            "scales": self.scales,
            "noise_std": self.noise_std,
        }

    def _save(self, kind: str) -> bytes:
        meta = {"format": FORMAT, "kind": kind, "white_noise": str(self.white_noise)}
        if kind == "checkpoint":
            meta["epochs_done"] = str(self.epochs_done)
        return st_save({k: np.ascontiguousarray(v) for k, v in self._tensors().items()}, meta)

    def _load(self, data: bytes, field: str) -> dict[str, str]:
        try:
            tensors = st_load(data)
            size = int.from_bytes(data[:8], "little")
            meta = json.loads(data[8 : 8 + size]).get("__metadata__") or {}
        except Exception as exc:
            raise BadInputError(
                field, f"are not safetensors bytes ({exc})", allowed=f"bytes from {field}()"
            ) from exc
        if meta.get("format") != FORMAT:
            raise BadInputError(
                field, f"hold format {meta.get('format')!r}", allowed=f"{FORMAT} bytes"
            )
        if meta.get("white_noise") != str(self.white_noise):
            raise BadInputError(
                field,
                f"were fitted with white_noise={meta.get('white_noise')}",
                allowed="weights of a model with this config",
            )
        expected = self._tensors()
        wrong = sorted(
            k
            for k in expected.keys() | tensors.keys()
            if k not in tensors
            or k not in expected
            or tensors[k].shape != expected[k].shape
            or tensors[k].dtype != np.float32
            or not np.isfinite(tensors[k]).all()
        )
        if wrong:
            raise BadInputError(
                field,
                f"do not fit this model ({', '.join(wrong)}): built with another length, "
                "channel count, class count or components?",
                allowed="weights of a model with this config",
            )
        for name, value in tensors.items():
            setattr(self, name, value.copy())
        return meta

    def weights(self) -> bytes:
        return self._save("weights")

    def load_weights(self, data: bytes) -> None:
        self._load(data, "weights")

    def checkpoint(self) -> bytes:
        """The weights and the epoch count (the fit has no other training state)."""
        return self._save("checkpoint")

    def load_checkpoint(self, data: bytes) -> None:
        meta = self._load(data, "checkpoint")
        if meta.get("kind") != "checkpoint":
            raise BadInputError(
                "checkpoint", "these bytes hold weights only", allowed="bytes from checkpoint()"
            )
        self.epochs_done = int(meta["epochs_done"])


class PcaGaussianArchitecture:
    """The ``pca_gaussian`` architecture (a ``ModelArchitecture``)."""

    name = "pca_gaussian"
    family = "linear-gaussian"
    description = (
        "Class-conditional probabilistic PCA (NumPy, no torch): per class the mean series, its "
        "top-k principal components and white noise for the rest; fitted in closed form, so "
        "one epoch is the whole fit. A cheap, honest baseline for the learned families."
    )
    conditional = True
    space = SPACE
    scaling = "minmax"
    conformance_params = CONFORMANCE_PARAMS
    in_default_search = False

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> PcaGaussianModel:
        """``config``: the space's parameters (missing ones take their default) plus
        ``length``, ``n_channels``, ``n_classes`` and ``seed``; other keys are ignored.
        ``device`` is ignored: the model is NumPy on the CPU."""
        values = self.space.defaults()
        values.update({k: v for k, v in config.items() if k in values})
        checked = self.space.validate(values)
        shape = {}
        for key, low in (("length", 1), ("n_channels", 1), ("n_classes", 0)):
            value = config.get(key, 0 if key == "n_classes" else None)
            value = 0 if value is None and key == "n_classes" else value
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise BadInputError(key, f"got {value!r}", allowed=f"an integer >= {low}")
            shape[key] = int(value)
        return PcaGaussianModel(
            **shape,
            components=int(checked["components"]),
            white_noise=bool(checked["white_noise"]),
            seed=int(config.get("seed", 0)),
        )
