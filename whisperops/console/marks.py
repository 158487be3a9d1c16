"""The operator's marked recordings and the bulk actions on them. No Textual here.

A mark keeps what the recording was when it was marked (its attempt and status):
the bulk action later changes only the recordings still like that, and counts the
others as moved on, so a mark made minutes ago never acts on a newer attempt.
"""

from __future__ import annotations

from whisperops import ops
from whisperops.config import Settings
from whisperops.console.snapshot import Query
from whisperops.ops.queries import Seen
from whisperops.schemas import RecordingListItem


class Marks:
    """Marked recording ids and what each was when marked; kept across refreshes."""

    def __init__(self) -> None:
        self.seen: dict[int, Seen] = {}

    def __len__(self) -> int:
        return len(self.seen)

    def __contains__(self, recording_id: object) -> bool:
        return recording_id in self.seen

    def toggle(self, row: RecordingListItem) -> bool:
        """Mark ``row`` as shown, or unmark it; True when it is marked now."""
        if self.seen.pop(row.id, None) is not None:
            return False
        self.seen[row.id] = Seen(row.attempt, row.status)
        return True

    def add(self, marks: dict[int, Seen]) -> None:
        """Mark these too; a recording marked already keeps what it was marked as."""
        self.seen = {**marks, **self.seen}

    def clear(self) -> None:
        self.seen.clear()

    def take(self) -> dict[int, Seen]:
        """The marks, cleared here: a bulk action consumes them whatever its outcome."""
        taken, self.seen = self.seen, {}
        return taken


NARROW_FIRST = "Mark all needs a filter first: a status (1-4), a search (/) or a failure group (t)."


def narrowed(query: Query) -> bool:
    """Whether the table shows a chosen set: marking all of an unfiltered view would mark
    the whole archive (the CLI refuses that as well)."""
    return query.status is not None or bool(query.search) or query.ids is not None


def matching(query: Query) -> dict[int, Seen]:
    """Every recording matching the table's filter, search and picked group (the stats
    screen's), not only those shown.

    Blocking (a database read): call it from a worker thread.
    """
    return ops.select_marks(query.status, None, query.search or None, query.ids)


def requeue(marks: dict[int, Seen], settings: Settings) -> str:
    """Requeue the marked set and start what changed; the outcome in one line.

    Blocking: call it from a worker thread.
    """
    outcome = ops.requeue_marked(marks)
    if not outcome.changed:
        return outcome.describe()
    return f"{outcome.describe()}: {ops.start(outcome.changed, settings)}"


def fail(marks: dict[int, Seen], reason: str) -> str:
    """Fail the marked set with ``reason``; the outcome in one line. Blocking."""
    return ops.fail_marked(marks, reason).describe()


def requeue_question(count: int, paused: bool = False) -> str:
    question = f"Requeue {count:,} marked recording{'s' if count != 1 else ''}?"
    if paused:  # say it before, not after: they will wait for the resume
        question += " Intake is paused: they stay queued until it is resumed."
    return question


def fail_question(count: int) -> str:
    return f"Fail {count:,} marked recording{'s' if count != 1 else ''}? Why?"
