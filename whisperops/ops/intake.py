"""Pausing and resuming intake: whether new work goes on the transcribe queue.

Kept in the database (one row), so a pause set from any host holds for every
sweep, watcher and operator everywhere. Paused, recordings stay QUEUED (the
watcher still ingests, requeues still reset), running jobs finish, and nothing
new is enqueued until :func:`resume`.
"""

from __future__ import annotations

import getpass
import logging
import socket
from dataclasses import dataclass
from datetime import datetime

from peewee import Expression, fn

from whisperops.clock import as_utc, db_now
from whisperops.models import IntakeControl

log = logging.getLogger(__name__)

ROW_ID = 1


@dataclass(frozen=True)
class Intake:
    paused: bool
    changed_at: datetime | None = None  # UTC
    changed_by: str | None = None  # user@host that paused or resumed it
    reason: str | None = None

    def describe(self) -> str:
        """'paused since 2026-12-01 14:02 UTC by ops@farm1: kernel update' or 'running'."""
        if not self.paused:
            return "running"
        said = "paused"
        if self.changed_at is not None:
            said += f" since {self.changed_at:%Y-%m-%d %H:%M} UTC"
        if self.changed_by:
            said += f" by {self.changed_by}"
        return said + (f": {self.reason}" if self.reason else "")


def read_intake() -> Intake:
    """The intake state; running when the row is missing (never written)."""
    row = IntakeControl.get_or_none(IntakeControl.id == ROW_ID)
    if row is None:
        return Intake(paused=False)
    return Intake(
        paused=bool(row.paused),
        changed_at=as_utc(row.changed_at) if row.changed_at else None,
        changed_by=row.changed_by,
        reason=row.reason,
    )


def intake_paused() -> bool:
    """True while intake is paused (a missing row means running)."""
    return read_intake().paused


def while_running() -> Expression:
    """A WHERE condition that holds only while intake is not paused.

    Part of a guarded update (the worker's claim), so a pause set on another host
    between reading the state and writing the row still wins.
    """
    paused = IntakeControl.select().where(
        (IntakeControl.id == ROW_ID) & (IntakeControl.paused == True)  # noqa: E712
    )
    return ~fn.EXISTS(paused)


def _operator() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in a bare container
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _set(paused: bool, reason: str | None, now: datetime | None, by: str | None) -> Intake:
    changes = {
        "paused": paused,
        "changed_at": now or db_now(),
        "changed_by": by or _operator(),
        "reason": (reason or "").strip() or None,
    }
    # Only a change of state writes: two operators pausing at once both see it
    # running, and the first to write keeps who paused it, when and why.
    changed = (
        IntakeControl.update(**changes)
        .where((IntakeControl.id == ROW_ID) & (IntakeControl.paused != paused))
        .execute()
    )
    if not changed and IntakeControl.get_or_none(IntakeControl.id == ROW_ID) is None:
        IntakeControl.insert(id=ROW_ID, **changes).on_conflict_ignore().execute()
    intake = read_intake()
    log.info("Intake %s", intake.describe() if paused else f"resumed by {intake.changed_by}")
    return intake


def pause(reason: str | None = None, now: datetime | None = None, by: str | None = None) -> Intake:
    """Stop enqueueing new work everywhere; running jobs finish. ``by`` defaults to
    this process's user@host."""
    return _set(True, reason, now, by)


def resume(now: datetime | None = None, by: str | None = None) -> Intake:
    """Enqueue again; the next sweep (or this call's caller) fills the room."""
    return _set(False, None, now, by)
