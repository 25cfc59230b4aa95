"""examples/deployment/e2e.py, as CI runs it: MongoDB with auth, an MLflow server and a Ray head
(with token auth, then without) on loopback, the README's steps, then nothing left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.ray, pytest.mark.mongo, pytest.mark.mlflow, pytest.mark.slow]


def _processes_naming(marker: str) -> list[str]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            found.append(f"{entry.name}: {cmd[:200]}")
    return found


def test_the_deployment_readme_works_on_loopback(tmp_path: Path) -> None:
    work = tmp_path / "e2e"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHTS_", "RAY_"))}
    proc = subprocess.run([sys.executable, str(ROOT / "examples/deployment/e2e.py"),
                           "--workdir", str(work)], capture_output=True, text=True,
                          env={**env, "OMP_NUM_THREADS": "1"}, timeout=600, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for step in ("the dataset is in MongoDB", "the job succeeded on the Ray head",
                 "the documented 4 CPUs per trial are refused", "sample writes finite series",
                 "synthts config names a token the head does not expect",
                 "train refuses a token the head does not expect, naming it",
                 "the Ray head (token auth) is stopped", "the Ray head (no auth) is stopped"):
        assert step in out, out[-6000:]
    assert out.count("train registers the best trial") == 2
    assert not _processes_naming(str(work)), "left running"
