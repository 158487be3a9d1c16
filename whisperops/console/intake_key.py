"""What the console's ``p`` asks before pausing or resuming intake. No Textual here."""

from __future__ import annotations

from whisperops.config import Settings
from whisperops.console.snapshot import Snapshot
from whisperops.jobs.names import TRANSCRIBE_QUEUE
from whisperops.text import literal


def pausing(snapshot: Snapshot) -> bool:
    """Whether ``p`` pauses (intake running or not read yet) rather than resumes."""
    return not (snapshot.intake and snapshot.intake.paused)


def intake_question(snapshot: Snapshot, settings: Settings) -> str:
    """The confirmation for ``p``: what pausing or resuming will do, from the last poll."""
    if pausing(snapshot):
        waiting = snapshot.queue_depths.get(TRANSCRIBE_QUEUE)
        jobs = "waiting jobs are" if waiting is None else f"the {waiting} waiting jobs are"
        return (
            "Pause intake? Nothing new is enqueued on any host until resumed; "
            f"{jobs} withdrawn (their recordings stay queued); running jobs finish."
        )
    assert snapshot.intake is not None
    return (
        f"Resume intake ({literal(snapshot.intake.describe())})? Queued recordings are "
        f"enqueued again, up to max_in_flight {settings.max_in_flight}."
    )


def sentence(text: str) -> str:
    """``text`` with a capital first letter, the rest as it is (user and host names),
    control characters escaped (a reason is typed by someone)."""
    return literal(text[:1].upper() + text[1:])
