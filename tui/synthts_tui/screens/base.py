"""What every page shares: header, navigation tabs, footer, and one place where failed
workers turn into an error dialog carrying the API's message."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Tab, Tabs
from textual.worker import Worker, WorkerState, get_current_worker

from synthts_tui.client import ApiError, JobEventStream
from synthts_tui.messages import JobEvent
from synthts_tui.widgets.dialogs import ErrorDialog

if TYPE_CHECKING:
    from synthts_tui.app import SynthtsApp
    from synthts_tui.client import SynthtsClient


def error_title(error: BaseException | None) -> str:
    if not isinstance(error, ApiError):
        return "Something went wrong"
    if error.status is None:
        return "Cannot reach the API"
    if error.status >= 500:
        return f"The API failed ({error.status})"
    return f"The API refused the request ({error.status})"


class BaseScreen(Screen):
    """A page of the app. Subclasses set ``MODE`` and ``LABEL`` and implement
    ``compose_body``; ``SynthtsApp.PAGES`` lists them in order."""

    MODE: ClassVar[str] = "home"
    LABEL: ClassVar[str] = "Home"
    """The page's name on its tab, its key's help and its command palette entry."""

    @property
    def synthts(self) -> SynthtsApp:
        return self.app  # type: ignore[return-value]

    @property
    def client(self) -> SynthtsClient:
        return self.synthts.client

    def compose(self) -> ComposeResult:
        yield Header()
        yield Tabs(*(Tab(f"{i}·{page.LABEL}", id=f"nav-{page.MODE}") for i, page
                     in enumerate(self.synthts.PAGES, start=1)), active=f"nav-{self.MODE}",
                   id="nav")
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    # ------------------------------------------------------------------ worker plumbing
    @work(thread=True, exit_on_error=False, group="events")
    def read_events(self, stream: JobEventStream) -> None:
        """Post each event of a job's stream as a ``JobEvent`` (pages that follow jobs)."""
        for kind, data in stream:
            self.deliver(JobEvent(stream.job_id, kind, data))

    def deliver(self, message: Message) -> None:
        """From a thread worker: hand a result (one of ``synthts_tui.messages``) to the
        page's ``@on`` handler, unless the worker was superseded meanwhile."""
        worker = get_current_worker()
        if not worker.is_cancelled:
            self.post_message(message)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if self.worker_failed(event.worker.name, error):
                return
            title = error_title(error)
            message = str(error) if isinstance(error, ApiError) else \
                f"{type(error).__name__}: {error}"
            self.app.push_screen(ErrorDialog(title, message))

    def worker_failed(self, name: str, error: BaseException | None) -> bool:
        """Hook: a screen may put the error on a form field or reset a busy state. Return
        True when the page has shown the error itself (no dialog then)."""
        return False

    # ------------------------------------------------------------------ navigation
    @on(Tabs.TabActivated, "#nav")
    def _navigate(self, event: Tabs.TabActivated) -> None:
        mode = (event.tab.id or "").removeprefix("nav-")
        if mode and mode != self.MODE and self.is_current:
            self.app.switch_mode(mode)

    def on_screen_suspend(self) -> None:
        # covered by a dialog or the palette (still in the stack) vs left for another page
        self._left_page = self not in self.app.screen_stack

    def on_screen_resume(self) -> None:
        """Reload when the page comes into view, not when a dialog over it closes (a failed
        reload would otherwise reopen its error dialog at once)."""
        self.query_one("#nav", Tabs).active = f"nav-{self.MODE}"
        if getattr(self, "_left_page", True):
            self.refresh_data()

    def refresh_data(self) -> None:
        """Reload what the page shows; called whenever the page comes into view."""

    def when(self, iso: str | None) -> str:
        """A timestamp for display; blank when the app hides times (snapshot tests)."""
        if not iso or self.synthts.stable:
            return ""
        try:
            stamp = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
        except ValueError:
            return str(iso)
        return stamp.astimezone().strftime("%Y-%m-%d %H:%M")
