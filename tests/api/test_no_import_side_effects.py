"""Importing the API's controllers changes nothing in the process: the SIGTERM handler that
cancels a server's jobs (``tests/training/test_signals_serve.py``) is set up when the app is
built, through the jobs service, never as a side effect of an import. Checked in a fresh
interpreter, since the test process has imported everything long before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = """
import signal, sys
import synthts_core.api.controllers
import synthts_core.api.controllers.jobs
assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "an import set a SIGTERM handler"
from synthts_core.api import create_app
from synthts_core.settings import Settings
create_app(Settings(data_dir=sys.argv[1], _env_file=None))
assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, "create_app set no handler"
"""


def test_importing_the_controllers_installs_no_signal_handler(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
