"""Everything about one recording: metadata, step timeline, error, transcript, outputs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from whisperops import ops
from whisperops.config import Settings
from whisperops.db import database_proxy
from whisperops.errors import WhisperopsError
from whisperops.text import render_detail


def read_detail_text(recording_id: int, settings: Settings, now: datetime) -> str:
    """The detail text of one recording, or one line saying why it could not be read."""
    try:
        with database_proxy.connection_context():
            return render_detail(ops.show_recording(recording_id, settings), now)
    except WhisperopsError as exc:
        return str(exc)
    except Exception as exc:
        return f"Could not load recording #{recording_id}: {exc}"


class DetailScreen(Screen):
    """Loads its recording in a thread of its own when shown, and again on ctrl+r.

    Requeue and fail act on the app's selection, which is this recording while the
    screen is up; the app reloads the screen when such an operation finishes.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,backspace", "app.pop_screen", "Back"),
        Binding("r", "app.requeue_selected", "Requeue"),
        Binding("f", "app.fail_selected", "Fail"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    class Loaded(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, recording_id: int, settings: Settings, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.recording_id = recording_id
        self.settings = settings
        self.now = now

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text(f"Loading recording #{self.recording_id}..."), id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        self.post_message(
            self.Loaded(read_detail_text(self.recording_id, self.settings, self.now()))
        )

    @on(Loaded)
    def show(self, message: Loaded) -> None:
        self.query_one("#detail-body", Static).update(Text(message.text))
