"""The operator console: a live table of recordings with requeue and fail keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from redis import Redis
from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from whisperops import ops
from whisperops.config import Settings
from whisperops.console.rows import COLUMNS, cell, row_values
from whisperops.console.screens.detail import DetailScreen
from whisperops.console.screens.dialogs import ConfirmScreen, FailScreen
from whisperops.console.snapshot import Query, Snapshot, SortOrder, take_snapshot
from whisperops.db import bind_database, database_proxy, utcnow
from whisperops.detail_text import render_detail
from whisperops.errors import WhisperopsError
from whisperops.formatting import literal
from whisperops.models import Status
from whisperops.redis_server import observer_connector

WIDE_COLUMNS = 120  # from this terminal width on, file names and errors get more room


class ConsoleApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "whisperops"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("enter", "open_detail", "Detail", show=False),
        Binding("r", "requeue_selected", "Requeue"),
        Binding("f", "fail_selected", "Fail"),
        Binding("slash", "search", "Search"),
        Binding("s", "toggle_sort", "Sort"),
        Binding("0", "filter(None)", "All"),
        Binding("1", "filter('queued')", "Queued"),
        Binding("2", "filter('processing')", "Proc"),
        Binding("3", "filter('done')", "Done"),
        Binding("4", "filter('failed')", "Failed"),
        Binding("ctrl+r", "refresh_now", "Refresh", show=False),
        Binding("down,j", "cursor('down')", "Down", show=False),
        Binding("up,k", "cursor('up')", "Up", show=False),
    ]

    class SnapshotReady(Message):
        def __init__(self, snapshot: Snapshot, generation: int) -> None:
            super().__init__()
            self.snapshot = snapshot
            self.generation = generation

    def __init__(
        self,
        settings: Settings,
        redis_factory: Callable[[], Redis],
        refresh_sec: float,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.redis_factory = redis_factory
        self.refresh_sec = refresh_sec
        self.now = now
        self.query_state = Query()
        self.generation = 0
        self.timer: Timer | None = None
        self.cells: dict[str, tuple[str, ...]] = {}  # key -> the values shown
        self.wide: bool | None = None
        self.last_snapshot = Snapshot()

    def compose(self) -> ComposeResult:
        yield Static(id="status-bar")
        yield Static(id="banner")
        yield Input(placeholder="search file names; Enter to apply, Esc to clear", id="search")
        table = DataTable(id="recordings", cursor_type="row", zebra_stripes=True)
        for column in COLUMNS:
            table.add_column(column.upper(), key=column)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        self.query_one("#banner").display = False
        self.query_one(DataTable).focus()
        self.request_poll()

    def on_resize(self, event: events.Resize) -> None:
        # Cell widths follow the terminal width: redraw from the last poll at once
        # rather than waiting up to refresh_sec for the next one. (This runs before
        # App records the new size, hence the width from the event.)
        if self.last_snapshot.fetched_at is not None:
            self.update_table(self.last_snapshot, event.size.width)

    # --- polling -------------------------------------------------------------

    def request_poll(self) -> None:
        """Poll now; any pending timer is dropped so polls never overlap."""
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        self.generation += 1
        self.poll(self.generation, self.query_state)

    @work(thread=True, exclusive=True, group="poll")
    def poll(self, generation: int, query: Query) -> None:
        snapshot = take_snapshot(self.settings, query, self.redis_factory, self.now)
        self.post_message(self.SnapshotReady(snapshot, generation))

    @on(SnapshotReady)
    def snapshot_ready(self, message: SnapshotReady) -> None:
        if message.generation != self.generation:
            return  # a newer poll (filter change) is on its way
        self.apply(message.snapshot)
        self.timer = self.set_timer(self.refresh_sec, self.request_poll)

    def apply(self, snapshot: Snapshot) -> None:
        if snapshot.db_error is None:
            self.last_snapshot = snapshot
            self.update_table(snapshot)
        else:
            self.last_snapshot.db_error = snapshot.db_error
        self.update_bars(snapshot)

    def update_table(self, snapshot: Snapshot, width: int | None = None) -> None:
        table = self.query_one(DataTable)
        width = width or self.size.width
        wide = width >= WIDE_COLUMNS
        if wide != self.wide:
            table.clear()
            self.cells.clear()
            self.wide = wide
        selected = self.selected_key()
        now = self.now()
        wanted = [str(row.id) for row in snapshot.rows]
        with self.batch_update():
            for key in set(self.cells) - set(wanted):
                table.remove_row(key)
                del self.cells[key]
            for row in snapshot.rows:
                key = str(row.id)
                values = row_values(row, now, width)
                old = self.cells.get(key)
                if old is None:
                    table.add_row(
                        *(cell(c, v) for c, v in zip(COLUMNS, values, strict=True)), key=key
                    )
                elif old != values:
                    for column, before, after in zip(COLUMNS, old, values, strict=True):
                        if before != after:
                            table.update_cell(key, column, cell(column, after))
                self.cells[key] = values
            current = [row.key.value for row in table.ordered_rows]
            if current != wanted:
                position = {key: index for index, key in enumerate(wanted)}
                table.sort("id", key=lambda cells: position[cells[0].plain])
            if selected in self.cells:
                table.move_cursor(row=table.get_row_index(selected), scroll=False)

    def update_bars(self, snapshot: Snapshot) -> None:
        counts = self.last_snapshot.counts
        bar = Text(" · ".join(f"{status.value} {counts.get(status, 0):,}" for status in Status))
        if snapshot.redis_error is None:
            bar.append(f" │ workers {snapshot.workers_online}")
        if snapshot.fetched_at:
            bar.append(f" │ {snapshot.fetched_at:%H:%M:%S} UTC")
        line = []
        if snapshot.redis_error is None:
            line.append(
                "queues "
                + " ".join(
                    f"{name.removeprefix('whisperops-')} {depth}"
                    for name, depth in snapshot.queue_depths.items()
                )
            )
        filters = self.query_state
        shown = filters.status.value if filters.status else "all"
        if filters.search:
            shown += f" ~{filters.search!r}"
        line.append(f"{shown} {len(self.cells):,}/{self.last_snapshot.matching:,}")
        line.append(f"sort {filters.sort.value}")
        bar.append("\n" + " │ ".join(line))
        self.query_one("#status-bar", Static).update(bar)

        problems = []
        if snapshot.db_error:
            problems.append(f"Database unreachable: {snapshot.db_error}")
        if snapshot.redis_error:
            problems.append(f"Redis unreachable: {snapshot.redis_error}")
        banner = self.query_one("#banner", Static)
        banner.display = bool(problems)
        if problems:
            banner.update(Text(" | ".join(problems) + f" — retrying every {self.refresh_sec:g}s"))

    # Actions on the main table; on the detail screen they are off (and not in the footer).
    TABLE_ACTIONS = frozenset({"open_detail", "search", "toggle_sort", "filter", "cursor"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        on_detail = self.screen is not self.screen_stack[0]
        return not (action in self.TABLE_ACTIONS and on_detail)

    # --- selection and actions ----------------------------------------------

    def selected_key(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected_recording(self) -> tuple[int, str] | None:
        key = self.selected_key()
        if isinstance(self.screen, DetailScreen):
            key = str(self.screen.recording_id)
        if key is None:
            return None
        name = next((r.file_name for r in self.last_snapshot.rows if str(r.id) == key), "")
        return int(key), name

    def action_cursor(self, direction: str) -> None:
        table = self.query_one(DataTable)
        (table.action_cursor_down if direction == "down" else table.action_cursor_up)()

    def action_open_detail(self) -> None:
        selected = self.selected_recording()
        if selected is not None:
            self.push_screen(DetailScreen(selected[0]))

    @on(DataTable.RowSelected)
    def row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open_detail()

    def read_detail_text(self, recording_id: int) -> str:
        try:
            return render_detail(ops.show_recording(recording_id, self.settings), self.now())
        except WhisperopsError as exc:
            return str(exc)
        except Exception as exc:
            return f"Could not load recording #{recording_id}: {exc}"
        finally:
            database_proxy.close()

    def action_requeue_selected(self) -> None:
        selected = self.selected_recording()
        if selected is None:
            return
        recording_id, name = selected

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.run_operation(recording_id, "requeue", None)

        self.push_screen(ConfirmScreen(f"Requeue #{recording_id} {literal(name)}?"), confirmed)

    def action_fail_selected(self) -> None:
        selected = self.selected_recording()
        if selected is None:
            return
        recording_id, name = selected

        def given(reason: str | None) -> None:
            if reason:
                self.run_operation(recording_id, "fail", reason)

        self.push_screen(FailScreen(f"Fail #{recording_id} {literal(name)}? Why?"), given)

    @work(thread=True, group="operations")
    def run_operation(self, recording_id: int, operation: str, reason: str | None) -> None:
        try:
            if operation == "requeue":
                recording = ops.requeue(recording_id)
                message = f"Requeued #{recording.id} {literal(recording.file_name)}"
            else:
                recording = ops.fail(recording_id, reason or "")
                message = f"Failed #{recording.id}: {literal(recording.error_message)}"
            self.call_from_thread(self.notify, message, markup=False)
        except WhisperopsError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", markup=False)
        except Exception as exc:
            self.call_from_thread(
                self.notify, f"{operation} failed: {exc}", severity="error", markup=False
            )
        finally:
            database_proxy.close()
        self.call_from_thread(self.after_operation)

    def after_operation(self) -> None:
        if isinstance(self.screen, DetailScreen):
            self.screen.action_reload()
        self.request_poll()

    # --- filters --------------------------------------------------------------

    def action_filter(self, status: str | None) -> None:
        self.query_state = Query(
            Status(status) if status else None, self.query_state.search, self.query_state.sort
        )
        self.request_poll()

    def action_toggle_sort(self) -> None:
        following = (
            SortOrder.AGE if self.query_state.sort is SortOrder.UPDATED else SortOrder.UPDATED
        )
        self.query_state = Query(self.query_state.status, self.query_state.search, following)
        self.request_poll()

    def action_refresh_now(self) -> None:
        self.request_poll()

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.value = self.query_state.search
        search.focus()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.set_search(event.value.strip())

    def set_search(self, text: str) -> None:
        search = self.query_one("#search", Input)
        search.display = bool(text)
        self.query_one(DataTable).focus()
        self.query_state = Query(self.query_state.status, text, self.query_state.sort)
        self.request_poll()

    def on_key(self, event) -> None:
        if event.key == "escape" and self.focused is self.query_one("#search", Input):
            event.stop()
            self.set_search("")


def build_app(
    settings: Settings,
    refresh_sec: float = 2.0,
    now: Callable[[], datetime] = utcnow,
    redis_factory: Callable[[], Redis] | None = None,
) -> ConsoleApp:
    """The one way the CLI and the tests build the console."""
    bind_database(settings.database_url)
    return ConsoleApp(settings, redis_factory or observer_connector(settings), refresh_sec, now)
