"""Everything about one recording: metadata, step timeline, error, transcript, outputs."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static


class DetailScreen(Screen):
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

    def __init__(self, recording_id: int) -> None:
        super().__init__()
        self.recording_id = recording_id

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
        self.post_message(self.Loaded(self.app.read_detail_text(self.recording_id)))

    @on(Loaded)
    def show(self, message: Loaded) -> None:
        self.query_one("#detail-body", Static).update(Text(message.text))
