"""The operator console: a live table of recordings with requeue and fail keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import ClassVar

from redis import Redis
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input

from whisperops import ops
from whisperops.clock import utcnow
from whisperops.config import Settings
from whisperops.console import intake_key, marks
from whisperops.console.mark_keys import MarkKeys
from whisperops.console.screens.detail import DetailScreen
from whisperops.console.screens.dialogs import ConfirmScreen, FailScreen
from whisperops.console.screens.stats import StatsScreen, without_group
from whisperops.console.screens.workers import WorkersScreen
from whisperops.console.snapshot import HeldRedis, Query, Snapshot, SortOrder, take_snapshot
from whisperops.console.widgets import Banner, RecordingsTable, SearchBar, StatusBar
from whisperops.db import bind_database, database_proxy
from whisperops.errors import WhisperopsError
from whisperops.models import Status
from whisperops.redis_server import observer_connector
from whisperops.text import literal


class ConsoleApp(MarkKeys, App):
    CSS_PATH = "app.tcss"
    TITLE = "whisperops"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("enter", "open_detail", "Detail", show=False),
        Binding("r", "requeue_selected", "Requeue"),
        Binding("f", "fail_selected", "Fail"),
        Binding("p", "toggle_intake", "Pause"),
        Binding("w", "open_workers", "Workers"),
        Binding("t", "open_stats", "Stats"),
        Binding("escape", "clear_group", "Clear group", show=False),
        Binding("space", "toggle_mark", "Mark", show=False),
        Binding("a", "mark_all", "Mark all", show=False),
        Binding("u", "clear_marks", "Unmark", show=False),
        Binding("slash", "search", "Search"),
        Binding("s", "toggle_sort", "Sort"),
        Binding("0", "filter(None)", "All"),
        Binding("1", "filter('queued')", "Queued"),
        Binding("2", "filter('processing')", "Proc"),
        Binding("3", "filter('done')", "Done"),
        Binding("4", "filter('failed')", "Failed"),
        Binding("ctrl+r", "refresh_now", "Refresh", show=False),
    ]

    # Actions on the main table; on the detail screen they are off (and not in the footer).
    TABLE_ACTIONS = frozenset(
        {"open_detail", "search", "toggle_sort", "filter", "open_stats", "clear_group"}
        | MarkKeys.ACTIONS
    )

    class SnapshotReady(Message):
        """A poll finished; ``generation`` tells whether a newer one was asked for since."""

        def __init__(self, snapshot: Snapshot, generation: int) -> None:
            super().__init__()
            self.snapshot = snapshot
            self.generation = generation

    class OperationDone(Message):
        """An operation on a recording finished: what to tell the operator."""

        def __init__(self, text: str, error: bool = False) -> None:
            super().__init__()
            self.text = text
            self.error = error

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
        self.poll_redis = HeldRedis(redis_factory)  # the main screen's, kept between polls
        self.refresh_sec = refresh_sec
        self.now = now
        self.query_state = Query()
        self.generation = 0
        self.timer: Timer | None = None
        self.last_snapshot = Snapshot()  # the last poll that read the database
        self.marks = marks.Marks()  # kept across refreshes, until acted on or cleared

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Banner(id="banner")
        yield SearchBar(id="search")
        yield RecordingsTable(id="recordings")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SearchBar).display = False
        self.query_one(Banner).display = False
        self.query_one(RecordingsTable).focus()
        self.request_poll()

    def on_resize(self, event: events.Resize) -> None:
        # Cell widths follow the terminal width: redraw from the last poll at once
        # rather than waiting up to refresh_sec for the next one. (This runs before
        # App records the new size, hence the width from the event.)
        if self.last_snapshot.fetched_at is not None:
            self.show_rows(event.size.width)

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
        snapshot = take_snapshot(self.settings, query, self.poll_redis, self.now)
        if snapshot.redis_error is not None:
            self.poll_redis.forget()
        self.post_message(self.SnapshotReady(snapshot, generation))

    @on(SnapshotReady)
    def snapshot_ready(self, message: SnapshotReady) -> None:
        if message.generation != self.generation:
            return  # a newer poll (filter change) is on its way
        self.apply(message.snapshot)
        # Armed only now that this poll is done, so the next one never overlaps it.
        self.timer = self.set_timer(self.refresh_sec, self.request_poll)

    def apply(self, snapshot: Snapshot) -> None:
        """Show what one poll read; a poll that could not read the DB keeps the rows shown."""
        if snapshot.db_error is None:
            self.last_snapshot = snapshot
            self.show_rows(self.size.width)
        else:
            self.last_snapshot.db_error = snapshot.db_error
        table = self.query_one(RecordingsTable)
        self.query_one(StatusBar).show(
            snapshot, self.last_snapshot, self.query_state, len(table.shown), len(self.marks)
        )
        self.query_one(Banner).show(snapshot, self.refresh_sec)

    def show_rows(self, width: int) -> None:
        stuck_sec = self.settings.stuck_processing_threshold_sec
        table = self.query_one(RecordingsTable)
        table.show(self.last_snapshot.rows, self.now(), width, stuck_sec, self.marks)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        on_detail = self.screen is not self.screen_stack[0]
        return not (action in self.TABLE_ACTIONS and on_detail)

    # --- selection and actions ----------------------------------------------

    def selected_key(self) -> str | None:
        return self.query_one(RecordingsTable).selected_key()

    def selected_recording(self) -> tuple[int, str] | None:
        """The id and file name of the recording on the detail screen or under the cursor."""
        key = self.selected_key()
        if isinstance(self.screen, DetailScreen):
            key = str(self.screen.recording_id)
        if key is None:
            return None
        name = next((r.file_name for r in self.last_snapshot.rows if str(r.id) == key), "")
        return int(key), name

    def action_open_detail(self) -> None:
        selected = self.selected_recording()
        if selected is not None:
            self.push_screen(DetailScreen(selected[0], self.settings, self.now))

    @on(DataTable.RowSelected)
    def row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open_detail()

    def action_requeue_selected(self) -> None:
        if self.acts_on_marks():
            self.requeue_marks()
            return
        selected = self.selected_recording()
        if selected is None:
            return
        recording_id, name = selected

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.requeue_recording(recording_id)

        self.push_screen(ConfirmScreen(f"Requeue #{recording_id} {literal(name)}?"), confirmed)

    def action_fail_selected(self) -> None:
        if self.acts_on_marks():
            self.fail_marks()
            return
        selected = self.selected_recording()
        if selected is None:
            return
        recording_id, name = selected

        def given(reason: str | None) -> None:
            if reason:
                self.fail_recording(recording_id, reason)

        self.push_screen(FailScreen(f"Fail #{recording_id} {literal(name)}? Why?"), given)

    @work(thread=True, group="operations")
    def requeue_recording(self, recording_id: int) -> None:
        def requeued() -> str:
            recording = ops.requeue(recording_id)
            # Started at once rather than at the next sweep: the operator watches for it.
            started = ops.start([recording], self.settings)
            return f"Requeued #{recording.id} {literal(recording.file_name)}: {started}"

        self.post_message(self.operate(requeued, "requeue"))

    @work(thread=True, group="operations")
    def fail_recording(self, recording_id: int, reason: str) -> None:
        def failed() -> str:
            recording = ops.fail(recording_id, reason)
            return f"Failed #{recording.id}: {literal(recording.error_message)}"

        self.post_message(self.operate(failed, "fail"))

    def operate(self, operation: Callable[[], str], name: str) -> OperationDone:
        """Run ``operation`` (in a worker thread) and turn its outcome into a message."""
        try:
            with database_proxy.connection_context():
                return self.OperationDone(operation())
        except WhisperopsError as exc:
            return self.OperationDone(str(exc), error=True)
        except Exception as exc:
            return self.OperationDone(f"{name} failed: {exc}", error=True)

    @on(OperationDone)
    def operation_done(self, message: OperationDone) -> None:
        self.notify(
            message.text, severity="error" if message.error else "information", markup=False
        )
        if isinstance(self.screen, DetailScreen):
            self.screen.action_reload()
        self.request_poll()

    # --- marks and bulk actions (space, a, u) ---------------------------------
    # The keys' actions live in MarkKeys (console/mark_keys.py).

    # --- workers (w) -----------------------------------------------------------

    def action_open_workers(self) -> None:
        args = (self.settings, self.redis_factory, self.refresh_sec, self.now)
        self.push_screen(WorkersScreen(*args))  # on the view itself, w reloads it instead

    # --- stats (t) -------------------------------------------------------------

    def action_open_stats(self) -> None:
        """The stats screen (screens/stats.py): a failure group picked there is the new query."""
        self.push_screen(StatsScreen(self.now, self.query_state), self.requery)

    def action_clear_group(self) -> None:
        self.requery(without_group(self.query_state))

    def requery(self, query: Query | None) -> None:
        if query is not None and query != self.query_state:
            self.query_state = query
            self.request_poll()

    # --- intake pause (p) ------------------------------------------------------

    def action_toggle_intake(self) -> None:
        """Pause intake when it runs, resume it when paused: after a confirmation."""
        pausing = intake_key.pausing(self.last_snapshot)

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.set_intake(pausing)

        question = intake_key.intake_question(self.last_snapshot, self.settings)
        self.push_screen(ConfirmScreen(question), confirmed)

    @work(thread=True, group="operations")
    def set_intake(self, pausing: bool) -> None:
        change = ops.pause_intake if pausing else ops.resume_intake
        self.post_message(
            self.operate(lambda: intake_key.sentence(change(self.settings)), "intake")
        )

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
        self.query_state = replace(self.query_state, sort=following)
        self.request_poll()

    def action_refresh_now(self) -> None:
        self.request_poll()

    def action_search(self) -> None:
        search = self.query_one(SearchBar)
        search.display = True
        search.value = self.query_state.search
        search.focus()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.query_one(SearchBar).display = bool(text)
        self.query_one(RecordingsTable).focus()
        self.query_state = replace(self.query_state, search=text)  # within a picked group too
        self.request_poll()


def build_app(
    settings: Settings,
    refresh_sec: float = 2.0,
    now: Callable[[], datetime] = utcnow,
    redis_factory: Callable[[], Redis] | None = None,
) -> ConsoleApp:
    """The one way the CLI and the tests build the console."""
    bind_database(settings.database_url.get_secret_value())
    return ConsoleApp(settings, redis_factory or observer_connector(settings), refresh_sec, now)
