"""Free TCP ports on this machine, for a server a process is about to start (the TUI's local
API, the test suite's MLflow, MongoDB-wire and Ray servers)."""

from __future__ import annotations

import contextlib
import socket


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports the OS had free just now. All are bound at once before any is
    released, so the OS cannot hand the same one out twice (a process that asked for ports
    one at a time got one port for two of a Ray head's components). Another process may
    still take one before the caller binds it; a caller that starts several servers at once
    asks for their ports together."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                   for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]
