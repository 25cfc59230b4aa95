"""The Ray cluster a job runs on: token auth, reachability, resources and disk, checked before
a job starts so that a job that cannot run fails at once with the reason, never waits for ever.

* ``apply_auth`` puts SYNTHTS_RAY_AUTH_* into the driver's environment the way Ray reads it
  (``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``). Ray reads them when it is
  imported, so its config is refreshed when they change (as Ray itself does when it turns
  token auth on). Workers need nothing: they talk to their own node's raylet.
* ``preflight`` checks a cluster address in a few seconds: a plain TCP connect first (Ray's
  own client waits 40 s on a closed port), then a GCS client, which a token head answers with
  ``AuthenticationError`` at once (``ray.init`` would retry for 20 s and then blame the address).
  A driver sending a token to a head without token auth is refused too: the head accepts the
  token, but its nodes call the driver back without one, the driver rejects them, and every
  trial is cancelled before it starts ("The actor never ran"). A second GCS client with auth
  turned off tells the two kinds of head apart. It returns each live node's resources.
* ``prepare_job`` (called by ``training.run_job`` right after Ray is up) validates the
  per-trial resource settings against the cluster (a trial must fit on one node), checks the
  free space of the experiment storage, and records the cluster on the job.

This module imports Ray only inside the functions that need it (the API's /ready uses it).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthts_core.domain import ClusterInfo, human_bytes
from synthts_core.errors import BackendUnavailableError, BadInputError, ConflictError

if TYPE_CHECKING:
    from synthts_core.domain import TrainingJob
    from synthts_core.runtime import Runtime

log = logging.getLogger("synthts.training")

CONNECT_TIMEOUT_S = 3.0  # TCP connect to the GCS port
AUTH_TIMEOUT_S = 8.0  # a GCS client's first answer (a token head rejects in milliseconds)
HINT_ADDRESS = "check SYNTHTS_RAY_ADDRESS and that `ray start --head` runs there"
HINT_TOKEN = ("set SYNTHTS_RAY_AUTH_TOKEN (or SYNTHTS_RAY_AUTH_TOKEN_PATH) to the cluster's "
              "token: `ray get-auth-token` on the head prints it")
HINT_NO_TOKEN = ("leave SYNTHTS_RAY_AUTH_TOKEN and SYNTHTS_RAY_AUTH_TOKEN_PATH empty (or set "
                 "SYNTHTS_RAY_AUTH_MODE=disabled) for a head without token auth, or start the "
                 "head with RAY_AUTH_MODE=token and that token")
NODE_INFO_TIMEOUT_S = 5  # the GCS's node table (a few milliseconds on a live head)
# the process's RAY_AUTH_* environment and Ray's cached auth config: changed by one thread at a
# time (the API's /ready probes while a job in another thread may be connecting)
AUTH_LOCK = threading.RLock()


# ----------------------------------------------------------------------------- auth


def auth_env(settings: Any) -> dict[str, str | None]:
    """The ``RAY_AUTH_*`` variables the settings ask for (None: remove it); empty when the
    settings leave Ray's own environment alone (``auto`` without a token)."""
    token = settings.ray_auth_token.get_secret_value() if settings.ray_auth_token else ""
    path = settings.ray_auth_token_path
    if token and path:
        raise BadInputError("SYNTHTS_RAY_AUTH_TOKEN_PATH", "is set together with "
                            "SYNTHTS_RAY_AUTH_TOKEN", allowed="one of the two")
    mode = settings.ray_auth_mode
    if mode == "auto":
        mode = "token" if token or path else None
    if mode is None:
        return {}
    if mode == "disabled":
        return {"RAY_AUTH_MODE": "disabled"}
    env: dict[str, str | None] = {"RAY_AUTH_MODE": "token"}
    if token:
        env.update(RAY_AUTH_TOKEN=token, RAY_AUTH_TOKEN_PATH=None)
    elif path:
        file = Path(path).expanduser()
        if not file.is_file():
            raise BadInputError("SYNTHTS_RAY_AUTH_TOKEN_PATH", f"{file} is not a file",
                                allowed="a file holding the cluster's token")
        env.update(RAY_AUTH_TOKEN_PATH=str(file.absolute()), RAY_AUTH_TOKEN=None)
    return env


def apply_auth(settings: Any) -> None:
    """Put the settings' Ray auth into this process's environment (refreshing Ray's config
    when it changes). Call only while no Ray is initialised in this process."""
    _set_auth_env(auth_env(settings))


def _set_auth_env(env: dict[str, str | None]) -> dict[str, str | None]:
    """Put ``env`` into this process's environment, refreshing Ray's cached auth config when
    anything changed; returns the previous values of the keys it set (to put them back)."""
    previous = {key: os.environ.get(key) for key in env}
    changed = False
    for key, value in env.items():
        if os.environ.get(key) != value:
            changed = True
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if changed:
        from ray._raylet import AuthenticationTokenLoader, Config

        # Ray caches RAY_AUTH_* at import; this is how Ray itself refreshes them
        # (ray._private.authentication.authentication_token_setup._enable_token_auth)
        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    return previous


def _token_source() -> str:
    if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        return "no token sent: the driver's Ray auth mode is not token"
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "the token sent was rejected"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return f"the token in {os.environ['RAY_AUTH_TOKEN_PATH']} was rejected"
    return "the token in ~/.ray/auth_token was rejected (or is missing)"


def _token_sent() -> str:
    """Where the token this driver sends comes from (its auth mode is token)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "SYNTHTS_RAY_AUTH_TOKEN or RAY_AUTH_TOKEN is set"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return f"SYNTHTS_RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN_PATH names " \
               f"{os.environ['RAY_AUTH_TOKEN_PATH']}"
    return "SYNTHTS_RAY_AUTH_MODE or RAY_AUTH_MODE is token"


# ----------------------------------------------------------------------------- reachability


def split_address(address: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port`` too) of a GCS address; None for what is not one (``auto``,
    a ``ray://`` client address), which is then left to ``ray.init``."""
    if "://" in address or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when something accepts TCP connections at ``address``, else why not."""
    parts = split_address(address)
    if parts is None:
        return None
    try:
        with socket.create_connection(parts, timeout=timeout_s):
            return None
    except TimeoutError:
        return f"no answer from {address} within {timeout_s:g} s"
    except OSError as exc:
        return f"nothing accepts connections at {address} ({exc.strerror or exc})"


def preflight(address: str) -> list[dict[str, float]] | None:
    """Fail within seconds, naming the cause, when ``address`` is not a Ray cluster this
    driver may join: nothing listening, not a Ray GCS, token auth rejected (missing or wrong
    token), or a token sent to a head without token auth. Returns each live node's resources
    (None for an address left to ``ray.init``). The caller has applied the auth settings
    (``apply_auth``) and no Ray is initialised in this process."""
    why = reachable(address)
    if why is not None:
        raise BackendUnavailableError("Ray", why, hint=HINT_ADDRESS)
    if split_address(address) is None:
        return None
    with AUTH_LOCK:
        nodes, exc = _probe_gcs(address, with_nodes=True)
        if isinstance(exc, TimeoutError):
            raise BackendUnavailableError(
                "Ray", f"{address} accepts connections but no Ray GCS answered within "
                f"{AUTH_TIMEOUT_S:g} s", hint=HINT_ADDRESS)
        if exc is not None and type(exc).__name__ == "AuthenticationError":
            raise BackendUnavailableError(
                "Ray", f"the cluster at {address} requires token auth ({_token_source()})",
                hint=HINT_TOKEN) from None
        if exc is not None:
            raise BackendUnavailableError("Ray", f"{address}: {first_line(exc)}",
                                          hint=HINT_ADDRESS) from None
        if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
            # a head without token auth accepts any token: ask again sending none
            previous = _set_auth_env({"RAY_AUTH_MODE": "disabled"})
            try:
                _, plain = _probe_gcs(address, with_nodes=False)
            finally:
                _set_auth_env(previous)
            if plain is None:
                raise BackendUnavailableError(
                    "Ray", f"the cluster at {address} does not use token auth, but this "
                    f"driver sends a token ({_token_sent()}): the cluster's nodes would call "
                    "it back without one and every trial would be cancelled before it "
                    "started", hint=HINT_NO_TOKEN)
    return nodes


def _probe_gcs(address: str, *, with_nodes: bool
               ) -> tuple[list[dict[str, float]] | None, BaseException | None]:
    """(live nodes' resources, None) when a GCS client connects to ``address`` within
    ``AUTH_TIMEOUT_S`` with this process's auth config, else (None, the error); a
    ``TimeoutError`` when nothing answered. In a thread: a port that is no GCS keeps Ray's
    client 40 s."""
    outcome: list[Any] = []

    def probe() -> None:
        try:
            from ray._raylet import GcsClient

            client = GcsClient(address=address)
            outcome.append((_live_nodes(client) if with_nodes else None, None))
        except BaseException as exc:
            outcome.append((None, exc))

    thread = threading.Thread(target=probe, name="synthts-ray-preflight", daemon=True)
    thread.start()
    thread.join(AUTH_TIMEOUT_S)
    if not outcome:
        return None, TimeoutError(address)
    return outcome[0]


def _live_nodes(client: Any) -> list[dict[str, float]] | None:
    """Each live node's total resources from the GCS's node table (None if it cannot be read:
    the resource check then waits for the job, which reads them through Ray)."""
    try:
        infos = client.get_all_node_info(timeout=NODE_INFO_TIMEOUT_S)
    except Exception as exc:
        log.debug("could not read the cluster's nodes: %s", exc)
        return None
    return [{k: float(v) for k, v in info.resources_total.items() if not k.startswith("node:")}
            for info in infos.values() if int(info.state) == 0]  # 0: ALIVE


def first_line(exc: BaseException, *, with_type: bool = True) -> str:
    """An error's first non-blank line (its ``message`` when it has one), at most 300
    characters, after its type name unless ``with_type=False`` (a synthts error's message
    already says what failed)."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    return (f"{type(exc).__name__}: {line}" if with_type else line)[:300]


def ready_check(settings: Any) -> tuple[bool, str, str]:
    """(ok, target, detail) for the API's /ready and ``synthts config``: the local default is
    fine ("local (started per job)"); a configured cluster must accept connections and, if
    this process has not joined it already, this driver's token (or its lack of one), and have
    a node that holds one trial (``SYNTHTS_RAY_CPUS_PER_TRIAL``/``_GPUS_PER_TRIAL``)."""
    address = settings.ray_address
    if not address:
        try:
            check_trial_settings(settings)
        except BadInputError as exc:
            return False, "local (started per job)", exc.message
        return True, "local (started per job)", "a local Ray starts with each job"
    import sys

    with AUTH_LOCK:
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized():
            why = reachable(address)
            return (why is None), address, why or "connected (a job runs here)"
        try:
            apply_auth(settings)
            nodes = preflight(address)
            if nodes:
                check_resources(settings, _totals(nodes), nodes)
        except (BackendUnavailableError, BadInputError) as exc:
            return False, address, exc.message
    token = auth_env(settings).get("RAY_AUTH_MODE") == "token"
    found = f", {describe(_totals(nodes), len(nodes))}" if nodes else ""
    return True, address, "reachable" + (", token accepted" if token else "") + found


def _totals(nodes: list[dict[str, float]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for node in nodes:
        for key, value in node.items():
            totals[key] = totals.get(key, 0.0) + value
    return totals


# ----------------------------------------------------------------------------- resources


def check_trial_settings(settings: Any) -> tuple[float, float]:
    """(CPUs, GPUs) per trial, refused when negative, not finite, or both zero."""
    out = []
    for name in ("ray_cpus_per_trial", "ray_gpus_per_trial"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not math.isfinite(value) or value < 0:
            raise BadInputError(f"SYNTHTS_{name.upper()}", f"got {value!r}",
                                allowed="a number >= 0 (fractions share a CPU/GPU)")
        if value > 1 and value != int(value):
            raise BadInputError(f"SYNTHTS_{name.upper()}", f"got {value!r}",
                                allowed="a fraction up to 1, or a whole number above 1 (Ray)")
        out.append(float(value))
    if out == [0.0, 0.0]:
        raise BadInputError("SYNTHTS_RAY_CPUS_PER_TRIAL", "is 0 and so is "
                            "SYNTHTS_RAY_GPUS_PER_TRIAL", allowed="at least one above 0")
    return out[0], out[1]


def check_resources(settings: Any, totals: dict[str, float],
                    nodes: list[dict[str, float]]) -> None:
    """Refuse per-trial requests no node of the cluster can hold (Tune would wait for ever)."""
    cpus, gpus = check_trial_settings(settings)
    for key, setting, asked in (("CPU", "SYNTHTS_RAY_CPUS_PER_TRIAL", cpus),
                                ("GPU", "SYNTHTS_RAY_GPUS_PER_TRIAL", gpus)):
        if asked <= 0:
            continue
        total = float(totals.get(key, 0.0))
        largest = max((float(n.get(key, 0.0)) for n in nodes), default=total)
        if total <= 0:
            raise BadInputError(setting, f"is {asked:g} but the cluster has no {key}",
                                allowed=f"0 on this cluster ({describe(totals, len(nodes))})")
        if asked > largest + 1e-9:
            where = "the cluster has" if len(nodes) <= 1 else "its largest node has"
            raise BadInputError(setting, f"is {asked:g} but {where} {largest:g} {key} "
                                f"(a trial runs on one node)",
                                allowed=f"at most {largest:g} on this cluster "
                                f"({describe(totals, len(nodes))})")


def describe(resources: dict[str, float], nodes: int) -> str:
    cpu, gpu = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    text = f"{nodes} node{'s' if nodes != 1 else ''}, {cpu:g} CPU, {gpu:g} GPU"
    mem = resources.get("memory")
    return text + (f", {mem / 2**30:.1f} GiB memory" if mem else "")


def cluster_text(info: ClusterInfo) -> str:
    """One line for `synthts jobs show`."""
    return f"{info.address} (Ray {info.ray_version}, {describe(info.resources, info.nodes)})"


def current_cluster(settings: Any) -> tuple[ClusterInfo, list[dict[str, float]]]:
    """The connected cluster (``ray.init`` done) and each live node's resources."""
    import ray

    totals = {k: float(v) for k, v in ray.cluster_resources().items()
              if not k.startswith("node:")}
    nodes = [{k: float(v) for k, v in n.get("Resources", {}).items()
              if not k.startswith("node:")} for n in ray.nodes() if n.get("Alive")]
    try:
        address = ray.get_runtime_context().gcs_address
    except Exception:
        address = settings.ray_address or "local"
    where = settings.ray_address or f"local ({address})"
    return ClusterInfo(address=where, ray_version=ray.__version__, nodes=len(nodes) or 1,
                       resources=totals), nodes


# ----------------------------------------------------------------------------- disk

# used when a trial's model cannot be built here: measured state + weights of the default
# configurations, 6.5-8 MiB at 1 channel x 128 steps and 11.5-15.5 MiB at 3 x 256 (the demo)
DEFAULT_CHECKPOINT_BYTES = 16 * 2**20
HEADROOM = 1.25  # experiment state, results files, logs
MAX_MEASURED_CONFIGS = 8  # distinct trial configurations whose checkpoint size is measured


def checkpoints_kept_per_trial() -> int:
    """The most checkpoints a trial holds at once: its best, the newest few, one being
    written (see ``training_trial.CheckpointPruner``)."""
    from synthts_core.services.training_trial import KEEP_RECENT

    return KEEP_RECENT + 2


def checkpoint_bytes(rt: Runtime, job: TrainingJob) -> int:
    """The largest checkpoint a trial of ``job`` writes, measured by building the trials'
    models on the CPU (the default model's measured size if that is not possible)."""
    try:
        meta = rt.storage.get_dataset_meta(job.spec.dataset)
        n_classes = len(job.spec.labels) if job.spec.labels is not None else \
            len(meta.label_names)
        shape = (int(meta.n_channels), int(meta.length))
        largest = 0
        seen: set[str] = set()
        for trial in job.trials:
            key = f"{trial.architecture}:{sorted(trial.config.items())}"
            if key in seen:
                continue
            if len(seen) >= MAX_MEASURED_CONFIGS:
                break
            seen.add(key)
            arch = rt.registries.architectures.get(trial.architecture)
            config = {**trial.config, "architecture": arch.name, "length": shape[1],
                      "n_channels": shape[0], "n_classes": n_classes if arch.conditional
                      else 0, "label_names": list(meta.label_names)[:max(n_classes, 1)],
                      "seed": 0, "total_epochs": job.spec.epochs}
            trainer = arch.build(config, "cpu")
            size = len(trainer.checkpoint()) + len(trainer.weights()) + 64 * 1024
            largest = max(largest, size)
        return largest or DEFAULT_CHECKPOINT_BYTES
    except Exception as exc:
        log.debug("could not measure a checkpoint of job %s: %s", job.id, exc)
        return DEFAULT_CHECKPOINT_BYTES


def estimate_job_bytes(rt: Runtime, job: TrainingJob) -> int:
    """Disk a job's experiment folder may need at its peak: every trial holding its kept
    checkpoints at once, plus headroom."""
    trials = max(1, len(job.trials))
    return int(checkpoint_bytes(rt, job) * checkpoints_kept_per_trial() * trials * HEADROOM)


def check_disk(rt: Runtime, job: TrainingJob, estimate: int | None = None) -> None:
    """Refuse a job whose checkpoints would not fit on the experiment storage's disk (a local
    folder; remote storage is not checked) with SYNTHTS_MIN_FREE_BYTES to spare."""
    uri = rt.settings.ray_storage_uri
    if "://" in uri:
        return
    folder = Path(uri)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    need = (estimate_job_bytes(rt, job) if estimate is None else estimate) + \
        max(0, int(rt.settings.min_free_bytes))
    if free < need:
        raise BadInputError(
            "SYNTHTS_RAY_STORAGE", f"{uri} has {human_bytes(int(free))} free but job {job.id} needs about "
            f"{human_bytes(int(need))} ({len(job.trials)} trial(s) x {checkpoints_kept_per_trial()} "
            f"checkpoints + SYNTHTS_MIN_FREE_BYTES={rt.settings.min_free_bytes})",
            allowed="free space (`synthts jobs prune`), fewer trials, or another "
            "SYNTHTS_RAY_STORAGE")


# ----------------------------------------------------------------------------- a job


def prepare_job(rt: Runtime, job: TrainingJob, resume: bool = False) -> TrainingJob:
    """Right after Ray is up, before the job runs: a resumed job still has its experiment
    folder, the trials fit the cluster and the disk; the cluster is recorded on the job."""
    from synthts_core.services.retention import PRUNED

    pruned = next((e for e in reversed(job.errors) if PRUNED in e), None)
    gone = bool(job.experiment_path) and "://" not in str(job.experiment_path) and \
        not Path(str(job.experiment_path)).is_dir()
    if resume and (gone or pruned):  # a half-deleted folder cannot be resumed either
        raise ConflictError(f"training job {job.id!r} cannot be resumed: its experiment folder "
                            f"{job.experiment_path} is "
                            + ("gone" if gone else "partly deleted")
                            + (f" ({pruned})" if pruned else ""), name=job.id)
    info, nodes = current_cluster(rt.settings)
    check_resources(rt.settings, info.resources, nodes)
    check_disk(rt, job)
    return rt.storage.update_job(job.id, cluster=info)
