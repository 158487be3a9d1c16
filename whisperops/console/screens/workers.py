"""The workers view: what each whisperops worker is on; dead or fenced-off ones flagged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from redis import Redis
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static

from whisperops.config import Settings
from whisperops.console.screens.detail import DetailScreen
from whisperops.console.snapshot import _first_line
from whisperops.db import database_proxy
from whisperops.jobs.workers import estimate, read_workers, recording_label
from whisperops.schemas import WorkerInfo
from whisperops.text import dash, format_duration, truncate

# Most telling first: at 80 columns NAME..BEAT fit, the rest scrolls sideways.
COLUMNS = ("name", "state", "recording", "step", "est", "beat", "host", "pid", "done", "fail")
COLUMNS += ("up", "flags")
RIGHT_ALIGNED = frozenset({"est", "beat", "pid", "done", "fail", "up"})
FLAGGED_STYLE = "bold red"


def worker_cells(info: WorkerInfo) -> tuple[str, ...]:
    """The plain text of one worker's row, in COLUMNS order, narrow enough for 80 columns."""
    return (
        truncate(info.name, 14),
        truncate(info.state, 7),
        recording_label(info, 22),
        truncate(info.processing_step or "-", 11),
        estimate(info),
        format_duration(info.heartbeat_age_sec),
        truncate(info.hostname or "-", 16),
        dash(info.pid),
        str(info.successful_jobs),
        str(info.failed_jobs),
        format_duration(info.uptime_sec),
        ", ".join(info.flags),
    )


def summary(workers: list[WorkerInfo], error: str | None) -> Text:
    """The line above the table: how many workers in which state, and who is flagged why."""
    text = Text()
    if error:
        text.append(f"Could not read the workers: {error}\n", style=FLAGGED_STYLE)
    if not workers:
        return text.append("No whisperops workers registered.")
    states: dict[str, int] = {}
    for info in workers:
        states[info.state] = states.get(info.state, 0) + 1
    text.append(f"{len(workers)} workers: ")
    text.append(", ".join(f"{count} {state}" for state, count in states.items()))
    text.append(" · enter: its recording", style="dim")
    for info in workers:
        if info.flags:
            text.append(f"\n{info.name}: {', '.join(info.flags)}", style=FLAGGED_STYLE)
    return text


def _read(
    settings: Settings, redis_factory: Callable[[], Redis], now: datetime
) -> tuple[list[WorkerInfo] | None, str | None]:
    try:
        connection = redis_factory()
        try:
            with database_proxy.connection_context():
                return read_workers(connection, now), None
        finally:
            connection.close()
    except Exception as exc:  # shown above the table; the next refresh tries again
        return None, _first_line(exc, settings)


class WorkersScreen(Screen):
    """Reads RQ's registry and the recordings in a thread every refresh_sec, and on ctrl+r.

    Enter on a worker that is on a recording opens that recording's detail.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,backspace", "app.pop_screen", "Back"),
        Binding("enter", "open_recording", "Recording"),
        Binding("ctrl+r", "reload", "Reload", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        # The app's requeue and fail act on the recordings table's row, hidden under
        # this screen: here they would hit a recording the operator cannot see.
        Binding("r,f", "only_on_recordings", show=False),
        Binding("w", "reload", show=False),
    ]

    class Loaded(Message):
        def __init__(
            self, fleet: list[WorkerInfo] | None, error: str | None, generation: int
        ) -> None:
            super().__init__()
            self.fleet = fleet
            self.error = error
            self.generation = generation

    def __init__(
        self,
        settings: Settings,
        redis_factory: Callable[[], Redis],
        refresh_sec: float,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__()
        self.settings = settings
        self.redis_factory = redis_factory
        self.refresh_sec = refresh_sec
        self.now = now
        self.fleet: list[WorkerInfo] = []
        self.shown: dict[str, tuple[str, ...]] = {}
        self.generation = 0
        self.timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Loading workers..."), id="workers-summary")
        yield DataTable(id="workers", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column.upper(), key=column)
        table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        """Read now; a pending refresh is dropped so reads never overlap."""
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        self.generation += 1
        self.load(self.generation)

    @work(thread=True, exclusive=True)
    def load(self, generation: int) -> None:
        workers, error = _read(self.settings, self.redis_factory, self.now())
        self.post_message(self.Loaded(workers, error, generation))

    @on(Loaded)
    def loaded(self, message: Loaded) -> None:
        if message.generation != self.generation:
            return  # a newer read (ctrl+r) is on its way
        if message.fleet is not None:  # a failed read keeps the rows shown
            self.fleet = message.fleet
            self.show(message.fleet)
        self.query_one("#workers-summary", Static).update(summary(self.fleet, message.error))
        self.timer = self.set_timer(self.refresh_sec, self.action_reload)

    def show(self, workers: list[WorkerInfo]) -> None:
        """Update the table in place: only changed cells, unless workers came or went."""
        table = self.query_one(DataTable)
        wanted = {info.name: worker_cells(info) for info in workers}
        with self.app.batch_update():
            if list(wanted) != list(self.shown):
                selected = self.selected_name()
                table.clear()
                self.shown.clear()
                for info in workers:
                    table.add_row(*self._cells(info, wanted[info.name]), key=info.name)
                if selected in wanted:
                    table.move_cursor(row=table.get_row_index(selected), scroll=False)
            else:
                for info in workers:
                    before, after = self.shown[info.name], wanted[info.name]
                    styled = self._cells(info, after)
                    for column, old, new, cell in zip(COLUMNS, before, after, styled, strict=True):
                        # A flag appearing or clearing restyles the whole row.
                        if old != new or before[-1] != after[-1]:
                            table.update_cell(info.name, column, cell)
            self.shown = wanted

    @staticmethod
    def _cells(info: WorkerInfo, values: tuple[str, ...]) -> list[Text]:
        style = FLAGGED_STYLE if info.flags else ""
        return [
            Text(value, style=style, justify="right" if column in RIGHT_ALIGNED else "left")
            for column, value in zip(COLUMNS, values, strict=True)
        ]

    def selected_name(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_open_recording(self) -> None:
        name = self.selected_name()
        info = next((w for w in self.fleet if w.name == name), None)
        if info is None or info.recording_id is None:
            self.notify("This worker is not on a recording.", severity="warning")
            return
        self.app.push_screen(DetailScreen(info.recording_id, self.settings, self.now))

    @on(DataTable.RowSelected)
    def row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the app would open the recordings table's row instead
        self.action_open_recording()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_only_on_recordings(self) -> None:
        self.notify("Open the worker's recording (enter) to requeue or fail it.")
