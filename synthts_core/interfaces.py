"""What a plugin of each kind provides. Plugins hand instances of these to the registries.

Protocols, not base classes: a plugin needs nothing from synthts but ``hookimpl`` and these
shapes. Heavy libraries (torch, mlflow, ...) stay inside the plugins; the core passes arrays and
plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from synthts_core.schema import ParamSchema

if TYPE_CHECKING:
    from synthts_core.domain import (
        Dataset,
        DatasetMeta,
        DatasetQuery,
        DatasetSpec,
        ModelBundle,
        ModelVersionRef,
        Page,
        RegisteredModel,
        TrainingJob,
    )
    from synthts_core.settings import Settings


@runtime_checkable
class SignalGenerator(Protocol):
    """A signal or noise process. ``generate`` is batched: one call makes ``n`` series.

    ``times`` is the time grid, shape (length,) shared by all series or (n, length) per series
    (irregular sampling). Returns float64 or float32 of shape (n, length). ``params`` has been
    validated against ``schema`` (and ``check``) already. Randomness comes only from ``rng``.
    """

    name: str
    kind: Literal["signal", "noise"]
    description: str
    schema: ParamSchema

    def check(self, params: Mapping[str, Any]) -> None:
        """Cross-field checks beyond ``schema`` (e.g. AR stationarity); raise BadInputError."""

    def generate(self, n: int, times: np.ndarray, params: Mapping[str, Any],
                 rng: np.random.Generator) -> np.ndarray: ...


@runtime_checkable
class DatasetPreset(Protocol):
    """A named, documented dataset spec (e.g. the seed's ten harmonics)."""

    name: str
    description: str

    def spec(self, **overrides: Any) -> DatasetSpec: ...


@runtime_checkable
class GenerativeModel(Protocol):
    """One generative model of any family as ``ModelArchitecture.build`` returns it: the
    training service trains it epoch by epoch and checkpoints it, the model service loads a
    registered version's weights into a fresh build and samples it. Everything the core calls
    on a model is here; the conformance suite (``synthts_core.testing.conformance.model``)
    checks each promise.

    Arrays are NumPy: ``values`` float32 (n, n_channels, length) in the scaling the architecture
    declares (``scaling``; [-1, 1] for ``minmax``), labels int64 class indices in
    ``0..n_classes-1``. A bad argument (a label out of range, labels for an unconditional model,
    a ``z`` of the wrong shape, bytes that do not fit) raises
    ``synthts_core.errors.BadInputError`` naming the argument, never a bare ``ValueError``.
    Nothing is ever pickled: weights and checkpoints are safetensors bytes.

    Optional attributes (read with ``getattr``; absent means the default in brackets):

    - ``latent_kind: str`` ("latent"): what ``z`` is. ``"latent"``: a GAN's latent vector;
      ``"initial_noise"``: a diffusion model's starting noise, (channels x length) flattened,
      which a deterministic sampler maps to one series. Both are standard normal, so a latent
      walk is a spherical interpolation between two draws either way.
    - ``sample_cost: float`` (1.0): network passes per generated series against a GAN
      generator's one (a diffusion model's sampling steps). A trial draws its per-epoch
      quality curve less often for a costly sampler.
    - ``privacy_record(n_series: int) -> synthts_core.privacy.PrivacyRecord | None``: a model
      of an architecture with ``supports_dp`` answers what its training spent so far (the
      plan: noise multiplier, Poisson sample rate, planned steps, delta, clipping norm; the
      steps taken and their epsilon), None when it was built without ``dp_epsilon``. The trial
      logs it as run params and a metric each epoch and stores it in the version's config;
      the steps taken are part of ``checkpoint()``, so a resumed trial goes on counting.
    - ``privacy_exhausted: bool`` (False): True once a DP model has taken every step its
      budget planned; the trial then stops (its last epoch is scored), and ``train_epoch``
      must take no step past the plan.
    - ``extends_length: bool`` (False): the model generates series longer than it was trained
      on: ``generate(..., length=N)`` (and ``sampling_latents(n, seed, length=N)`` for a
      batchable one) gives (n, n_channels, N), and ``latent_size(N)`` is the size of one
      series' ``z`` at that length (a ``BadInputError`` naming ``length`` outside the
      family's bounds). The core passes ``length`` only for a longer series, so a family
      without it never sees the argument (its requests for another length are refused).
    """

    @property
    def latent_dim(self) -> int:
        """Size of one ``z``: ``generate``'s ``z`` is (n, latent_dim), standard normal."""

    @property
    def conditional(self) -> bool:
        """Whether samples depend on a class label (the architecture's ``conditional``)."""

    def train_epoch(self, values: np.ndarray, labels: np.ndarray | None = None
                    ) -> dict[str, float]:
        """One pass over ``values``; returns finite mean losses by name (``samples``, if
        present, counts the series seen). ``labels`` (n,) or None (an unconditional model, or a
        set without labels)."""

    def generate(self, n: int, labels: np.ndarray | None = None, z: np.ndarray | None = None,
                 seed: int | None = None, label_weights: np.ndarray | None = None
                 ) -> np.ndarray:
        """``n`` series, float32 (n, n_channels, length) in the declared scaling. ``z``
        (n, latent_dim) fixes the latents, otherwise ``seed`` draws them: the same model,
        ``seed`` (or ``z``) and labels give the same series, and another seed other series.
        Conditional: ``labels`` (n,) picks a class per series, ``label_weights`` (n, n_classes)
        mixes class conditionings instead (a one-hot row gives that class's series, a mixed row
        something else), neither draws classes from ``seed``. Unconditional: labels or
        label_weights raise ``BadInputError``."""

    def weights(self) -> bytes:
        """The sampling weights (safetensors): what a registered model version holds."""

    def load_weights(self, data: bytes) -> None:
        """Load ``weights()`` of a model built from the same config; afterwards ``generate``
        gives what the saved model gave."""

    def checkpoint(self) -> bytes:
        """Weights plus everything training needs to continue exactly (optimiser state, RNG,
        epoch count), as safetensors bytes."""

    def load_checkpoint(self, data: bytes) -> None:
        """Resume from ``checkpoint()`` in a fresh build of the same config: the next
        ``train_epoch`` and every ``generate`` match the model that wrote it."""


@runtime_checkable
class BatchableModel(GenerativeModel, Protocol):
    """Optional: a model whose seeded draws can be made ahead, so the API serves several
    generate requests in one forward pass and each still gets the series it gets alone."""

    def sampling_latents(self, n: int, seed: int | None = None) -> np.ndarray:
        """The ``z`` (n, latent_dim) that ``generate(n, seed=seed)`` draws."""

    def sampling_noise(self, n: int, seed: int | None = None) -> np.ndarray | None:
        """The per-point noise ``generate(n, labels=..., seed=seed)`` draws, to pass back as
        ``generate(..., noise=...)``; None for a model that draws nothing after ``z``."""

    def generate(self, n: int, labels: np.ndarray | None = None, z: np.ndarray | None = None,
                 seed: int | None = None, label_weights: np.ndarray | None = None,
                 noise: np.ndarray | None = None) -> np.ndarray: ...


@runtime_checkable
class ModelArchitecture(Protocol):
    """A generative architecture of some family (GAN, diffusion, ...). ``space`` is its
    hyper-parameter space; a ``config`` is a dict holding one value per parameter plus
    ``length``, ``n_channels``, ``n_classes`` and ``seed`` (and keys the architecture ignores,
    e.g. ``label_names``). ``device`` is one the core resolved (``cpu``, ``cuda``, ...). Two
    builds of the same config start from the same weights.

    Optional attributes, the architecture's own declarations (the core reads them with
    ``getattr`` and never names an architecture):

    - ``family: str`` (``DEFAULT_FAMILY``, "gan"): the family it belongs to, shown beside its
      name (read with ``family_of``).
    - ``scaling: str`` ("minmax"): the data scaling it trains on and generates in: ``minmax``
      maps each channel to [-1, 1], ``standard`` to zero mean and unit spread.
    - ``conformance_params: dict`` ({}): small values of its parameters that make the
      conformance suite's models train in seconds.
    - ``default_space(shape: DataShape) -> dict[str, Any] | None``: the search space the
      architecture is trained with when a job names no architectures, sized for the data
      (``synthts_core.domain.DataShape``); None leaves it out for that data (an unconditional
      model on a labelled set, say). Without it, ``in_default_search: bool`` (False) puts the
      architecture in every such job with its plain defaults. ``shape.private`` is True when
      the job asks for differential privacy: the space then suits DP and leaves off what the
      family refuses with it (the built-in GANs: a small critic, no moment loss or mean
      correction); an old ``default_space`` that ignores the field keeps working.
    - ``supports_dp: bool`` (False): it trains with differential privacy when a config sets
      ``dp_epsilon``. Its ``space`` must then hold ``synthts_core.privacy.dp_params()``
      (``dp_epsilon``: the target epsilon, None = no DP; ``dp_delta``: None = 1/N;
      ``dp_max_grad_norm``: the per-example clipping norm), and its model must clip each
      example's gradient and add Gaussian noise on every update that reads real series, draw
      those batches by Poisson sampling, set the noise with ``privacy.calibrate`` for the steps
      it plans and answer ``privacy_record`` / ``privacy_exhausted`` (``GenerativeModel``; the
      whole contract is ``synthts_core.privacy``'s docstring). Without it a job that sets a
      DP field for the architecture is refused when submitted, naming the field, and a DP job
      that names no architectures leaves it out of its default search. Its ``check`` refuses
      what it cannot make private (the GANs: the moment loss and the mean correction).
    - ``supports_missing: bool`` (False): it learns from series with missing points. Its
      model's ``train_epoch`` may then get NaN where a point is missing (the scaling fitted on
      observed points only) and must ignore those points (masked losses; no NaN reaches a
      loss or the weights), train exactly as before on data without NaN, and ``generate``
      complete series. Without it a job on a dataset with missing points is refused when
      submitted (``synthts_core.missing.require_support``), and one that names no
      architectures leaves it out. Generation draws the learnt pattern of missing points on
      request (``missing="learned"``): the core's work, not the model's.
    - ``check(config: dict, shape: DataShape) -> None``: refuse, with ``BadInputError`` naming
      the parameter, a drawn configuration that cannot run on the data (checked for every trial
      before a job is stored).
    - ``main_job_space: dict[str, Any] | None`` (None): the search space the main job
      (``synthts demo``) uses for this architecture; every architecture declaring one is
      searched by the main job (its trials dealt round-robin over them).
    - ``main_job_space_gpu: dict[str, Any] | None``: entries laid over ``main_job_space`` when
      the main job trains on a CUDA device.
    - ``main_job_epochs: int | None``: epochs of this architecture's main-job trials (250 when
      not declared); a family with costly epochs declares fewer, so its trials take about as
      long as the others'.
    - ``default_updates: int | None``: optimiser updates a trial trains for when the job names
      no epochs (the core turns them into epochs for the data at the default batch size;
      about 2000 when not declared): a family that learns slowly declares more.
    """

    name: str
    description: str
    conditional: bool
    space: ParamSchema

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> GenerativeModel: ...


DEFAULT_FAMILY = "gan"
"""The family of an architecture that declares none (``ModelArchitecture.family``)."""


def family_of(architecture: Any) -> str:
    """The family an architecture belongs to (``gan``, ``diffusion``, ...): its optional
    ``family`` attribute, ``DEFAULT_FAMILY`` when it declares none."""
    return str(getattr(architecture, "family", DEFAULT_FAMILY))


@runtime_checkable
class StorageBackend(Protocol):
    """Datasets and training jobs. Writes are atomic; values are binary float32 with a checksum
    verified on read. Names are unique: a second create raises ``ConflictError``.

    Exactly the methods the services call; the conformance suite
    (``synthts_core.testing.conformance.storage``) exercises each."""

    uri: str

    def open(self) -> None: ...
    def close(self) -> None: ...
    def ping(self) -> None:
        """Raise ``BackendUnavailableError`` (quickly, never hang) if the store is unreachable."""

    def create_dataset(self, dataset: Dataset) -> DatasetMeta: ...
    def get_dataset_meta(self, name: str) -> DatasetMeta: ...
    def read_dataset(self, name: str, *, series: slice | list[int] | None = None,
                     labels: list[int] | list[str] | None = None,
                     channels: list[int] | None = None) -> Dataset:
        """Whole (checksum verified) or sliced (chunk digests verified); a sliced read's meta
        has the subset's counts and checksum. ``labels`` are indices or label names."""
    def list_datasets(self, query: DatasetQuery) -> Page: ...
    def update_dataset(self, name: str, *, new_name: str | None = None,
                       tags: list[str] | None = None, description: str | None = None) -> DatasetMeta: ...
    def delete_dataset(self, name: str) -> None: ...

    def create_job(self, job: TrainingJob) -> TrainingJob: ...
    def update_job(self, job_id: str, **changes: Any) -> TrainingJob:
        """Atomic read-modify-write of status, progress, trials, errors, best_trial, model,
        experiment_path, owner, heartbeat_at, cluster; ``trial=TrialState`` upserts one trial,
        ``error=str`` appends one (see ``synthts_core.storage_support.apply_job_changes``).

        ``if_owner=token`` makes the write a compare-and-swap on the job's lease: it happens
        only if the stored ``owner.token`` is ``token`` (None: the job has no owner), checked
        and written in one atomic step; otherwise ``ConflictError`` and nothing changes. Of two
        processes taking the same free job at once, exactly one succeeds."""
    def get_job(self, job_id: str) -> TrainingJob: ...
    def list_jobs(self, *, offset: int = 0, limit: int = 50,
                  status: str | None = None) -> Page: ...


StorageFactory = Callable[[str, "Settings"], StorageBackend]
"""Builds a backend from its URI (the scheme picked the factory) and the settings."""


@runtime_checkable
class Tracker(Protocol):
    """Experiment tracking and model registry. Must work from Ray worker processes, so the
    training service rebuilds it there from the settings through the same factory.

    Exactly the methods the services call; the conformance suite
    (``synthts_core.testing.conformance.trackers``) exercises each. A tracker may offer more
    (the MLflow one reads a run's metric history back, for its tests), but the core never
    relies on it."""

    uri: str

    def ping(self) -> None: ...
    def close(self) -> None: ...

    # runs
    def start_run(self, experiment: str, run_name: str, params: Mapping[str, Any],
                  tags: Mapping[str, str] | None = None) -> str: ...
    def log_dataset_input(self, run_id: str, *, name: str, checksum: str,
                          shape: tuple[int, ...] | None = None) -> None:
        """Record the dataset (``name``, its ``checksum``, the trained array's ``shape``) as
        the run's input, so a run says which data it learned."""
    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None: ...
    def end_run(self, run_id: str, status: Literal["FINISHED", "FAILED", "KILLED"]) -> None:
        """Another ``status`` raises ``BadInputError`` naming ``status``."""
    def end_open_runs(self, experiment: str, tags: Mapping[str, str],
                      status: Literal["FINISHED", "FAILED", "KILLED"]) -> int:
        """End every still-running run of ``experiment`` that carries all of ``tags`` (the
        runs a killed process left open) as ``status``; returns how many it ended. Runs
        already ended, of another experiment or without the tags are left alone."""

    # registry
    def register_model(self, name: str, bundle: ModelBundle, *, run_id: str | None = None,
                       aliases: list[str] | None = None) -> ModelVersionRef:
        """A new version; each of ``aliases`` moves to it from any older version."""
    def list_models(self) -> list[RegisteredModel]: ...
    def list_versions(self, name: str) -> list[ModelVersionRef]: ...
    def get_version(self, name: str, version_or_alias: str) -> ModelVersionRef: ...
    def load_bundle(self, name: str, version: str) -> ModelBundle: ...
    def log_evaluation(self, name: str, version: str, report: Mapping[str, Any]) -> None: ...


TrackerFactory = Callable[["Settings"], Tracker]
"""Builds a tracker from the settings (the training workers call it too)."""


def missing_methods(obj: object, protocol: type) -> list[str]:
    """The methods of ``protocol`` that ``obj`` lacks, sorted. ``isinstance`` against a
    runtime-checkable protocol says only yes or no; this names what a plugin forgot, read from
    the protocol itself (and its protocol bases), so a method added to it is checked too."""
    wanted = {name for base in protocol.__mro__ if getattr(base, "_is_protocol", False)
              and base is not Protocol
              for name, member in vars(base).items()
              if not name.startswith("_") and callable(member)}
    return sorted(name for name in wanted if not callable(getattr(obj, name, None)))


@runtime_checkable
class Metric(Protocol):
    """Compares a real and a synthetic set, each float32 (n, channels, length).

    Returns a float (or (value, std) for repeated estimates). The evaluation service calls it
    per class where labels exist and on the pooled sets. ``higher_is_better`` orders trials.

    Optional attributes (read with ``getattr``): ``pass_threshold: float`` makes the metric the
    one whose value gives an evaluation's verdict, and the selection metric of a job that names
    none (the first such metric by name); ``per_epoch: bool`` marks a cheap metric logged every
    training epoch as the quality curve (the first such by name; it breaks ties between
    checkpoints); ``report_order: int`` puts the metric in the main job's evaluation and report,
    lowest first; ``per_class_by_default`` and ``needs_labels`` as the evaluation service reads
    them; ``uses_holdout: bool``: ``compute`` also takes ``holdout=`` (and, with
    ``needs_labels``, ``holdout_labels=``), real series the generator never saw (a dataset's
    held-out split or a fresh draw of a generated dataset's spec; None when there are none),
    per class that class's; ``guard_threshold: float`` makes the metric a guard judged beside
    the verdict's metric (a class fails when its value is on the bad side of the threshold
    divided by the number of classes; the memorisation guard states its alpha here);
    ``privacy_threshold: float`` puts it in the privacy audit (``Verdict.privacy``), with
    ``privacy_alpha`` and ``privacy_ceiling``: a class fails when its value is past the
    threshold and its details' ``p_value`` is below the alpha divided by the classes judged,
    and passes when its ``ci`` stays within the ceiling.
    """

    name: str
    description: str
    higher_is_better: bool
    min_channels: int

    def compute(self, real: np.ndarray, synthetic: np.ndarray,
                rng: np.random.Generator) -> float | tuple[float, float]: ...

