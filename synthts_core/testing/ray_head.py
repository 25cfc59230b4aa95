"""A real Ray head (``ray start --head``) on loopback, as a deployment runs one, for tests.

``start_ray_head`` starts one in its own session and temp folder, optionally with token auth;
``RayHead.kill()`` SIGKILLs its processes (a crashed head) and ``RayHead.stop()`` ends them
gracefully. Both touch only the processes of that head, found by its session id and its temp
folder, never other Rays on the machine (this module never runs ``ray stop``).

The head's ``HOME`` is a folder of its own, so a ``~/.ray/auth_token`` left by an earlier Ray
does not switch token auth on behind the test's back; the mode is always set explicitly.

Deleting: ``stop()`` removes only the two folders ``start_ray_head`` made with ``mkdtemp``
(recorded when it made them), and only after ``_check_deletable`` has confirmed each is an
absolute path named ``rayhead-*``/``rayhome-*`` directly inside the folder it was made in, and
is not ``/``, ``HOME``, the current folder, the repository or a parent of any of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from synthts_core.ports import free_ports

START_TIMEOUT_S = 90.0
_PREFIXES = ("rayhead-", "rayhome-")
_REPO = Path(__file__).resolve().parents[2]




def _ray_executable() -> str:
    beside = Path(sys.executable).parent / "ray"
    return str(beside) if beside.exists() else "ray"


@dataclass
class RayHead:
    """A running head: ``address`` (host:port of its GCS) and, with token auth, ``token``."""

    address: str
    temp_dir: Path
    session_id: int
    log_path: Path
    token: str | None = None
    num_cpus: int = 2
    # (folder, the folder it was made in) for each folder start_ray_head made with mkdtemp:
    # the only ones stop() may delete. Empty by default: a RayHead built by hand deletes nothing
    _owned: tuple[tuple[Path, Path], ...] = field(default=(), repr=False)
    # the exited ``ray start`` (the session leader), left unreaped until stop(): while its
    # zombie holds the pid, no other process can lead a session with the same id
    _leader: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # set once stop() found nothing left and reaped the leader: its pid (the session id) may
    # then lead an unrelated session, so pids() and stop() no longer look at the machine
    _stopped: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def driver_env(self) -> dict[str, str]:
        """The ``SYNTHTS_*`` variables a synthts process needs to use this head."""
        env = {"SYNTHTS_RAY_ADDRESS": self.address}
        if self.token is not None:
            env.update(SYNTHTS_RAY_AUTH_TOKEN=self.token, SYNTHTS_RAY_AUTH_MODE="token")
        else:
            env["SYNTHTS_RAY_AUTH_MODE"] = "disabled"
        return env

    def pids(self) -> list[int]:
        """This head's live processes: members of its session, or a Ray process naming its temp
        folder on its command line (a worker that left the session still carries it; a user's
        ``tail -f`` of one of its logs is not Ray's). None once ``stop()`` has finished."""
        if self._stopped:
            return []
        me = os.getpid()
        marker = str(self.temp_dir).encode()
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            pid = int(entry.name)
            try:
                ours = os.getsid(pid) == self.session_id
                if not ours:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        argv = fh.read()
                    ours = marker in argv and _is_ray_process(argv)
            except OSError:
                continue
            if ours and _running(pid):
                found.append(pid)
        return found

    def alive(self) -> bool:
        return bool(self.pids())

    def kill(self) -> None:
        """SIGKILL every process of this head at once (as a crash or an OOM kill would).
        Deletes nothing: call ``stop()`` afterwards (a test's teardown) to remove its folders."""
        self._signal_all(signal.SIGKILL, wait_s=10.0)

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM every process of this head, SIGKILL what is left after ``grace_s`` (the GCS,
        the raylet and the autoscaler monitor outlive a SIGTERM for more than 10 s when they
        all get it at once); then delete the folders start_ray_head created (nothing else).
        A second call does nothing."""
        if self._stopped:
            return
        if not self._signal_all(signal.SIGTERM, wait_s=grace_s):
            self._signal_all(signal.SIGKILL, wait_s=10.0)
        if not self.pids():
            if self._leader is not None:
                self._leader.wait()  # reap it only now that nothing of the session is left
            self._stopped = True
        for folder, parent in self._owned:
            if _check_deletable(folder, parent) and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)

    def _signal_all(self, sig: signal.Signals, wait_s: float) -> bool:
        """Send ``sig`` until none is left (new workers may appear meanwhile); True when all
        are gone within ``wait_s``."""
        deadline = time.monotonic() + wait_s
        while True:
            pids = self.pids()
            if not pids:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            time.sleep(0.2)

    def __enter__(self) -> RayHead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_deletable(folder: Path, parent: Path) -> bool:
    """True only for an absolute folder named ``rayhead-*``/``rayhome-*`` directly inside
    ``parent`` that is none of ``/``, HOME, the cwd, the repository, nor a parent of them."""
    if not folder.is_absolute() or not parent.is_absolute():
        return False
    real = Path(os.path.realpath(folder))
    if real.parent != Path(os.path.realpath(parent)) or not real.name.startswith(_PREFIXES):
        return False
    protected = {Path("/"), Path.home().resolve(), Path.cwd().resolve(), _REPO}
    return not any(real == p or real in p.parents for p in protected)


def _is_ray_process(cmdline: bytes) -> bool:
    """A command line (NUL-separated, from /proc) of one of Ray's own processes: the GCS, the
    raylet, a worker (``ray::...`` titles) or a Python process running a script of Ray's."""
    argv = [a for a in cmdline.split(b"\0") if a]
    if not argv:
        return False
    name = os.path.basename(argv[0].split(b" ", 1)[0])
    if name.startswith(b"ray::") or name in (b"gcs_server", b"raylet", b"ray"):
        return True
    return name.startswith(b"python") and any(
        (a.endswith(b".py") and b"/ray/" in a) or os.path.basename(a) == b"ray"
        for a in argv[1:])


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed child waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


def start_ray_head(tmp_path: Path, *, token: str | None = None, num_cpus: int = 2,
                   env: dict[str, str] | None = None) -> RayHead:
    """``ray start --head`` on 127.0.0.1 with a free port, its own temp folder and no dashboard;
    with ``token`` the head requires it (``RAY_AUTH_MODE=token``). Returns once it is up.

    ``tmp_path`` (a pytest tmp_path, or any folder of the caller's) holds the head's HOME and
    its log; it must be absolute. ``env``: variables added to the head's environment (which
    its raylet passes on to every worker it starts), e.g. to break its workers on purpose."""
    if not Path(tmp_path).is_absolute():
        raise ValueError(f"tmp_path must be an absolute folder, got {tmp_path!r}")
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    # Ray's unix socket paths live under the temp folder and must stay short (108 bytes)
    tmp_root = Path(tempfile.gettempdir()).resolve()
    temp_dir = Path(tempfile.mkdtemp(prefix="rayhead-", dir=tmp_root))
    home = Path(tempfile.mkdtemp(prefix="rayhome-", dir=tmp_path))
    log_path = tmp_path / f"ray-head-{temp_dir.name}.log"
    extra = dict(env or {})
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    env.update(extra)
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0",
               RAY_AUTH_MODE="token" if token is not None else "disabled")
    if token is not None:
        env["RAY_AUTH_TOKEN"] = token
    # no --ray-client-server-port: the minimal ray package refuses it (needs ray[client]);
    # every other port is a free one, so several heads (and other Rays) can run side by side
    # (taken together: distinct, or Ray refuses two components on one port)
    options = ["--dashboard-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
               "--metrics-export-port", "--runtime-env-agent-port", "--node-manager-port",
               "--object-manager-port"]
    port, *ports = free_ports(1 + len(options))
    cmd = [_ray_executable(), "start", "--head", "--node-ip-address", "127.0.0.1",
           "--port", str(port), "--temp-dir", str(temp_dir), "--num-cpus", str(num_cpus),
           "--num-gpus", "0", "--include-dashboard=false", "--disable-usage-stats"]
    for option, option_port in zip(options, ports, strict=True):
        cmd += [option, str(option_port)]
    with log_path.open("wb") as log:
        # its own session: every process the head starts stays in it, so kill/stop find them
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, stdin=subprocess.DEVNULL)
    head = RayHead(address=f"127.0.0.1:{port}", temp_dir=temp_dir, session_id=proc.pid,
                   log_path=log_path, token=token, num_cpus=num_cpus,
                   _owned=((temp_dir, tmp_root), (home, tmp_path)), _leader=proc)
    rc = _exit_status(proc.pid, START_TIMEOUT_S)
    if rc != 0 or not _accepts(port):
        head.stop(grace_s=2.0)
        raise RuntimeError(f"ray start --head failed (exit {rc}):\n"
                           f"{log_path.read_text(errors='replace')[-3000:]}")
    return head


def _exit_status(pid: int, timeout_s: float) -> int | None:
    """The exit code of child ``pid`` once it ends (None after ``timeout_s``), without reaping
    it (``WNOWAIT``): its pid stays taken, so the head's session id cannot be reused."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None:
            return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        time.sleep(0.05)
    return None


def _accepts(port: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False
