"""Serve the real synthts API in a background thread on a free loopback port.

``synthts tui`` without ``--api`` uses this so the TUI is still only an HTTP client: the same
code paths as against a remote server, no second way in. The tests use it too.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Iterable
from typing import Any

from synthts_core.ports import free_port

PRELOAD = ("ray.tune",)
"""Modules the in-process API may import lazily that read ``sys.stdout`` at import time.
A running Textual app replaces ``sys.stdout`` with a capture object lacking ``encoding``,
and ``ray.tune`` fails to import under it, so a training job started from the TUI would die
on its first line. Importing them before the app starts avoids that."""




class LocalApi:
    """The Litestar app under uvicorn in a daemon thread; ``url`` once started.

    Binds 127.0.0.1 only. ``stop`` asks uvicorn to exit and waits, so the app's lifespan closes
    storage and tracker cleanly.
    """

    def __init__(self, settings: Any = None, *, host: str = "127.0.0.1", port: int | None = None,
                 startup_timeout: float = 60.0, preload: Iterable[str] = PRELOAD,
                 **app_kwargs: Any) -> None:
        self.settings = settings
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout = startup_timeout
        self.app_kwargs = app_kwargs
        self.preload = tuple(preload)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalApi:
        import uvicorn

        from synthts_core.api import create_app

        for module in self.preload:
            # not installed: the API reports it when a job needs it
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
        app = create_app(settings=self.settings, **self.app_kwargs)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning",
                                lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="synthts-local-api",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the local synthts API failed to start (see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the local synthts API did not start within "
                                   f"{self.startup_timeout:.0f} s")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalApi:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
