"""The console's mark keys (space, a, u) and its bulk requeue and fail on the marks.

A mixin of :class:`~whisperops.console.app.ConsoleApp`, so that app.py stays the
wiring. Every change goes through :mod:`whisperops.ops.bulk`, in a worker thread;
the outcome line ("requeued 310; 2 had moved on meanwhile") is notified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work

from whisperops.config import Settings
from whisperops.console import marks
from whisperops.console.screens.dialogs import ConfirmScreen, FailScreen
from whisperops.console.snapshot import Query, Snapshot
from whisperops.console.widgets import RecordingsTable, StatusBar
from whisperops.db import database_proxy
from whisperops.ops.queries import Seen

if TYPE_CHECKING:  # the kind of class this is mixed into; console.app imports this module
    from textual.app import App

    _Base = App
else:
    _Base = object


class MarkKeys(_Base):
    """Marking rows, and acting on every marked recording with one confirmation.

    Mixed into ConsoleApp, whose selected_key, show_rows, operate and OperationDone it uses.
    """

    ACTIONS = frozenset({"toggle_mark", "mark_all", "clear_marks"})
    """Actions of the main table only (off on the detail screen)."""

    marks: marks.Marks
    last_snapshot: Snapshot
    query_state: Query
    settings: Settings

    def acts_on_marks(self) -> bool:
        """Whether r and f act on the marks: there are some, and the main table is up
        (on the detail screen they act on its recording)."""
        return bool(self.marks) and self.screen is self.screen_stack[0]

    def action_toggle_mark(self) -> None:
        key = self.selected_key()
        row = next((r for r in self.last_snapshot.rows if str(r.id) == key), None)
        if row is not None:
            self.marks.toggle(row)
            self.show_marks()

    def action_clear_marks(self) -> None:
        self.marks.clear()
        self.show_marks()

    def action_mark_all(self) -> None:
        """Mark every recording matching the filter and search, not only the rows shown."""
        if not marks.narrowed(self.query_state):
            self.notify(marks.NARROW_FIRST, severity="warning", markup=False)
            return
        self.find_matching(self.query_state)

    @work(thread=True, exclusive=True, group="marks")
    def find_matching(self, query: Query) -> None:
        try:
            with database_proxy.connection_context():
                found = marks.matching(query)
        except Exception as exc:  # the database is down: say so, keep the marks
            self.post_message(self.OperationDone(f"mark all failed: {exc}", error=True))
            return
        self.call_from_thread(self.marks_found, found)

    def marks_found(self, found: dict[int, Seen]) -> None:
        self.marks.add(found)
        self.show_marks()
        self.notify(f"marked {len(found):,} matching recordings", markup=False)

    def show_marks(self) -> None:
        """Show the marks in the rows and the status bar at once, without a poll."""
        self.show_rows(self.size.width)
        last = self.last_snapshot
        shown = len(self.query_one(RecordingsTable).shown)
        self.query_one(StatusBar).show(last, last, self.query_state, shown, len(self.marks))

    def requeue_marks(self) -> None:
        """Ask once, stating the count; then requeue and start every marked recording."""

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.run_bulk(lambda taken: marks.requeue(taken, self.settings), "requeue")

        intake = self.last_snapshot.intake
        question = marks.requeue_question(len(self.marks), intake is not None and intake.paused)
        self.push_screen(ConfirmScreen(question), confirmed)

    def fail_marks(self) -> None:
        """Ask once for the reason, stating the count; then fail every marked recording."""

        def given(reason: str | None) -> None:
            if reason:
                self.run_bulk(lambda taken: marks.fail(taken, reason), "fail")

        self.push_screen(FailScreen(marks.fail_question(len(self.marks))), given)

    def run_bulk(self, action: Callable[[dict[int, Seen]], str], name: str) -> None:
        """Hand the marks (cleared now) to ``action`` in a worker thread."""
        taken = self.marks.take()
        self.show_marks()
        self.bulk_worker(lambda: action(taken), name)

    @work(thread=True, group="operations")
    def bulk_worker(self, operation: Callable[[], str], name: str) -> None:
        self.post_message(self.operate(operation, name))
