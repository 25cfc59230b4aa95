"""examples/deployment followed step by step on loopback, checking each result.

Starts what README.md beside this file starts (a MongoDB-wire server with auth and the user in
``admin``, an ``mlflow server``, a Ray head with ``ray start --head``), writes the ``.env`` the
README has you copy from ``synthts.env`` (hosts and secrets replaced), and runs the documented
commands as a user would: ``synthts config``, ``generate``, ``train`` (1 trial x 2 epochs on the
cluster), ``jobs list``, ``sample``. Ray runs twice: with token auth, then without (where the
documented per-trial resources, 4 CPUs and 0.25 GPU, are first refused on the 2-CPU head, as is
the env file's token placeholder left in (issue 27), and then one 1-epoch trial runs).

    .venv/bin/python examples/deployment/e2e.py [--workdir DIR] [--keep]

Exit 0 when every check passed. Every process it starts is stopped on success, on failure and
on SIGTERM/SIGINT; the work folder (a new one under /tmp unless --workdir) is deleted unless
--keep or a check failed (its logs then say why).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BIN = Path(sys.executable).parent
CLI_TIMEOUT_S = 300


class CheckFailed(Exception):
    pass


def check(ok: bool, what: str, detail: str = "") -> None:
    if not ok:
        raise CheckFailed(f"{what}\n{detail[-4000:]}")
    print(f"  ok  {what}", flush=True)


class Deployment:
    """The servers of one run; ``close()`` stops every one that was started."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.mongo = None
        self.mlflow = None
        self.heads: list = []

    def start_mongo(self) -> None:
        from synthts_core.testing.mongo import start_auth_server

        # step 1: a MongoDB server with --auth, the user created in admin (as in mongosh)
        self.mongo = start_auth_server(self.work / "mongo" / "data",
                                       password=secrets.token_hex(12))

    def start_mlflow(self) -> str:
        from synthts_core.testing.mlflow_server import start_mlflow_server

        # step 2: `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow server ...`
        self.mlflow, uri, _ = start_mlflow_server(self.work / "mlflow")
        return uri

    def start_ray(self, token: str | None):
        from synthts_core.testing.ray_head import start_ray_head

        # step 3: `ray start --head` (one node: the head; workers would `ray start --address`)
        head = start_ray_head(self.work / f"ray-{'token' if token else 'plain'}", token=token)
        self.heads.append(head)
        return head

    def close(self) -> None:
        for head in self.heads:
            try:
                head.stop()
            except Exception as exc:
                print(f"could not stop the Ray head at {head.address}: {exc}", file=sys.stderr)
        if self.mlflow is not None:
            from synthts_core.testing.mlflow_server import stop_mlflow_server

            stop_mlflow_server(self.mlflow)
        if self.mongo is not None:
            self.mongo.stop()


def env_file(values: dict[str, str]) -> str:
    """``synthts.env`` with its values replaced by ``values`` (unknown keys appended)."""
    lines, seen = [], set()
    for line in (HERE / "synthts.env").read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in values:
            lines.append(f"{key}={values[key]}")
            seen.add(key)
        else:
            lines.append(line)
    lines += [f"{k}={v}" for k, v in values.items() if k not in seen]
    return "\n".join(lines) + "\n"


def synthts(run_dir: Path, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
    """A synthts command in ``run_dir`` (where the .env is), as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHTS_", "RAY_"))}
    env.update(OMP_NUM_THREADS="1", HOME=str(run_dir / "home"))
    (run_dir / "home").mkdir(exist_ok=True)
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "synthts"), *args], cwd=run_dir, env=env,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    took = time.monotonic() - start
    print(f"  $ synthts {' '.join(args)}  (exit {proc.returncode}, {took:.1f} s)", flush=True)
    if expect is not None:
        check(proc.returncode == expect, f"synthts {args[0]} exits {expect}",
              proc.stdout + proc.stderr)
    return proc


def run(work: Path) -> None:
    dep = Deployment(work)
    try:
        print("step 1-2: MongoDB with auth, MLflow server", flush=True)
        dep.start_mongo()
        mlflow_uri = dep.start_mlflow()
        assert dep.mongo is not None
        base = {"SYNTHTS_STORAGE": dep.mongo.uri, "SYNTHTS_MONGO_USERNAME": dep.mongo.username,
                "SYNTHTS_MONGO_PASSWORD": dep.mongo.password, "SYNTHTS_MLFLOW_URI": mlflow_uri,
                "SYNTHTS_DEVICE": "cpu", "SYNTHTS_API_TOKEN": secrets.token_hex(16)}
        for n, token in enumerate((secrets.token_hex(24), None)):
            label = "token auth" if token else "no auth"
            print(f"step 3: Ray head ({label})", flush=True)
            head = dep.start_ray(token)
            run_dir = work / f"run-{n}"
            run_dir.mkdir()
            # the shared Ray storage of a real cluster: here a folder on this one machine
            values = {**base, "SYNTHTS_RAY_ADDRESS": head.address,
                      "SYNTHTS_DATA_DIR": str(run_dir / "data"),
                      "SYNTHTS_RAY_STORAGE": str(run_dir / "ray-storage"),
                      "SYNTHTS_RAY_AUTH_TOKEN": token or ""}
            print("step 4: .env from synthts.env, then the documented commands", flush=True)
            # the documented per-trial resources (4 CPUs, 0.25 GPU) fit no 2-CPU head: the run
            # without auth shows them refused at once, then both use what the head has
            (run_dir / ".env").write_text(env_file(values))
            if not token:
                placeholder_left_in(run_dir, head, values)
                refused = synthts(run_dir, "train", "--dataset", "e2e", "--arch", "cgan",
                                  "--trials", "1", "--epochs", "1", "--quiet", expect=None)
                out = refused.stdout + refused.stderr
                check(refused.returncode != 0 and "SYNTHTS_RAY_CPUS_PER_TRIAL: is 4 but the "
                      "cluster has 2 CPU" in out and "Traceback" not in out,
                      "the documented 4 CPUs per trial are refused before the job starts", out)
            values.update(SYNTHTS_RAY_CPUS_PER_TRIAL="1", SYNTHTS_RAY_GPUS_PER_TRIAL="0")
            (run_dir / ".env").write_text(env_file(values))
            steps(run_dir, head, values, first=n == 0)
            head.stop()
            check(not head.alive(), f"the Ray head ({label}) is stopped")
    finally:
        dep.close()


def placeholder_left_in(run_dir: Path, head, values: dict[str, str]) -> None:
    """A head without token auth and the env file's token placeholder left in (issue 27): the
    head would take the token, its nodes would call the driver back without one and every
    trial would be cancelled before it started. `synthts config` and `train` both say so."""
    placeholder = "replace-with-the-ray-token"
    check(placeholder in (HERE / "synthts.env").read_text(), "synthts.env has the placeholder")
    (run_dir / ".env").write_text(env_file({**values, "SYNTHTS_RAY_AUTH_TOKEN": placeholder}))
    words = f"the cluster at {head.address} does not use token auth, but this driver sends"
    shown = synthts(run_dir, "config", expect=None)
    out = shown.stdout + shown.stderr
    check(shown.returncode == 1 and f"FAILED: Ray unavailable: {words}" in out
          and placeholder not in out, "synthts config names a token the head does not expect",
          out)
    refused = synthts(run_dir, "train", "--dataset", "e2e", "--arch", "cgan", "--trials", "1",
                      "--epochs", "1", "--quiet", expect=None)
    out = refused.stdout + refused.stderr
    check(refused.returncode != 0 and words in out and "Traceback" not in out,
          "train refuses a token the head does not expect, naming it", out)
    job = json.loads(synthts(run_dir, "jobs", "list", "--json").stdout)["items"][0]
    check(job["status"] == "failed" and words in job["error"],
          "the job record says why it failed", json.dumps(job))
    (run_dir / ".env").write_text(env_file(values))


def steps(run_dir: Path, head, values: dict[str, str], first: bool) -> None:
    """Every step on the first head; the second only trains (1 epoch) and checks the job."""
    shown = synthts(run_dir, "config").stdout
    secrets_ = [values[k] for k in ("SYNTHTS_MONGO_PASSWORD", "SYNTHTS_API_TOKEN",
                                    "SYNTHTS_RAY_AUTH_TOKEN") if values.get(k)]
    check(head.address in shown and values["SYNTHTS_MLFLOW_URI"] in shown
          and not any(s in shown for s in secrets_),
          "synthts config shows the servers and masks every secret", shown)
    epochs = 2 if first else 1
    if first:
        synthts(run_dir, "generate", "--preset", "sines", "--count", "12", "--length", "32",
                "--name", "e2e")
        listed = json.loads(synthts(run_dir, "datasets", "show", "e2e", "--json").stdout)
        check(listed["name"] == "e2e" and listed["n_series"] > 0,
              "the dataset is in MongoDB (read with the user from admin)", json.dumps(listed))
    trained = synthts(run_dir, "train", "--dataset", "e2e", "--arch", "cgan", "--trials", "1",
                      "--epochs", str(epochs), "--quiet", "--set", "latent_dim=8", "--set",
                      "batch_size=16", "--set", "conv_width=8", "--set", "embed_dim=4")
    check("registered e2e-gan version" in trained.stdout, "train registers the best trial",
          trained.stdout + trained.stderr)
    jobs = json.loads(synthts(run_dir, "jobs", "list", "--json").stdout)["items"]
    job = jobs[0]
    check(job["status"] == "succeeded" and job["cluster"]["address"] == head.address
          and job["cluster"]["resources"]["CPU"] == 2.0,
          "the job succeeded on the Ray head and its record names the cluster", json.dumps(job))
    check(all(t["run_id"] and t["epoch"] == epochs for t in job["trials"]),
          f"its trial ran {epochs} epoch(s) as an MLflow run")
    check(Path(job["experiment_path"]).parent == run_dir / "ray-storage",
          "its experiment folder is in SYNTHTS_RAY_STORAGE", job["experiment_path"])
    if not first:
        return
    out = run_dir / "samples.npy"
    synthts(run_dir, "sample", "e2e-gan@best", "--n", "2", "--seed", "1", "-o", str(out))
    values_ = np.load(out)
    check(values_.ndim == 3 and values_.shape[0] >= 2 and np.isfinite(values_).all(),
          "sample writes finite series from the registered model", str(values_.shape))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="folder for servers' data and logs "
                        "(default: a new folder under /tmp, deleted on success)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))

    def stop(signum: int, _frame: object) -> None:  # finally blocks stop the servers
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    made = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="synthts-e2e-")) if made else args.workdir.absolute()
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    start = time.monotonic()
    ok = False
    try:
        run(work)
        ok = True
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
    except KeyboardInterrupt as exc:
        print(f"interrupted ({exc}): servers stopped", file=sys.stderr)
    finally:
        if ok and made and not args.keep:
            _remove_own(work)
    print(f"{'passed' if ok else 'failed'} in {time.monotonic() - start:.0f} s", flush=True)
    return 0 if ok else 1


def _remove_own(work: Path) -> None:
    """Delete the work folder this script made with mkdtemp, and nothing else."""
    real = Path(os.path.realpath(work))
    tmp = Path(os.path.realpath(tempfile.gettempdir()))
    protected = {Path("/"), Path.home().resolve(), Path.cwd().resolve(), REPO}
    if real.is_absolute() and real.parent == tmp and real.name.startswith("synthts-e2e-") \
            and not any(real == p or real in p.parents for p in protected):
        shutil.rmtree(real, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
