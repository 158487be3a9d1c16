"""Reading recordings: one, a filtered list, or one with everything known about it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from peewee import SQL, Expression, fn

from whisperops.config import Settings
from whisperops.errors import NotFoundError
from whisperops.models import Recording, Status
from whisperops.outputs import existing_output_files
from whisperops.schemas import RecordingDetail, RecordingListItem, recording_detail


def get_recording(recording_id: int) -> Recording:
    recording = Recording.get_or_none(Recording.id == recording_id)
    if recording is None:
        raise NotFoundError(f"no recording with id {recording_id}")
    return recording


def count_by_status() -> dict[Status, int]:
    """How many recordings have each status, at a cost that follows the active ones.

    Queued, processing and failed are counted through the (status, ...) indexes; done,
    most of an archive, is the total less those. Counting a whole table is cheap (SQLite
    reads its smallest index: 6 ms at a million rows), walking a million done entries
    of the status index is not (130 ms). Read in one transaction, so the subtraction
    sees one state of the table (SQLite; PostgreSQL's statements each see their own,
    and a transition between two of them is off by one until the next read).
    """
    from whisperops.db import database_proxy

    # COUNT(*) as it is: peewee's .count() wraps the query in a subselect, which
    # SQLite no longer answers from its smallest index (44 ms instead of 6).
    everything = Recording.select(fn.COUNT(SQL("*")))
    with database_proxy.atomic():
        counts = {
            status: everything.where(Recording.status == status).scalar()
            for status in Status
            if status is not Status.DONE
        }
        total = everything.scalar()
    counts[Status.DONE] = max(0, total - sum(counts.values()))
    return {status: counts[status] for status in Status}


# How a failed recording's error_message names its step; the formats are fixed by the
# spec and written by pipeline/failures.py, the sweep and fail() in ops/transitions.py.
# "{step}" is the step's name; each form is a prefix of the message.
FAILED_STEP_FORMS = (
    "Step {step} failed:",
    "Step {step} (",  # 'Step transcribe (12 segments) failed: …'
    "Timeout in step {step} (",
    "Stuck in step {step} (",
    "Failed by operator in step {step} (",
)
_FAILED_STEP = re.compile(
    "|".join(re.escape(form).replace(re.escape("{step}"), r"(\w+)") for form in FAILED_STEP_FORMS)
)


def failed_step(message: str | None) -> str | None:
    """The step a failed recording's error_message names, or None when it names none."""
    found = _FAILED_STEP.match(message or "")
    if found is None:
        return None
    return next(group for group in found.groups() if group is not None)


def in_step(step: str) -> Expression:
    """Recordings "in" ``step``: processing it now, or failed in it (by its error_message)."""
    named = [
        Recording.error_message.startswith(form.format(step=step)) for form in FAILED_STEP_FORMS
    ]
    failed_in = named[0]
    for expression in named[1:]:
        failed_in |= expression
    return ((Recording.status == Status.PROCESSING.value) & (Recording.processing_step == step)) | (
        (Recording.status == Status.FAILED.value) & failed_in
    )


class Seen(NamedTuple):
    """What a recording was when it was marked: an action on it is fenced by both."""

    attempt: int
    status: Status


def select_marks(
    status: Status | None = None,
    step: str | None = None,
    search: str | None = None,
    ids: Iterable[int] | None = None,
) -> dict[int, Seen]:
    """Every recording matching the filters (all of them, not a page): id -> what was seen.

    ``ids`` narrows the selection to those recordings; without any filter every
    recording is selected, so callers insist on one.
    """
    query = Recording.select(Recording.id, Recording.attempt, Recording.status)
    if status is not None:
        query = query.where(Recording.status == Status(status).value)
    if step:
        query = query.where(in_step(step))
    if search:
        query = query.where(fn.LOWER(Recording.file_name).contains(search.lower()))
    if ids is not None:
        query = query.where(Recording.id.in_(list(ids)))
    return {
        recording_id: Seen(attempt, Status(seen_status))
        for recording_id, attempt, seen_status in query.order_by(Recording.id).tuples()
    }


def list_selected(ids: Iterable[int]) -> list[Recording]:
    """The recordings with these ids, by id (for showing a selection before acting on it)."""
    ids = list(ids)
    return (
        list(Recording.select().where(Recording.id.in_(ids)).order_by(Recording.id)) if ids else []
    )


def list_recordings(
    status: Status | None = None, search: str | None = None, limit: int | None = None
) -> tuple[list[RecordingListItem], int]:
    """Recordings, processing first then most recently updated; and the total matching."""
    query = Recording.select()
    if status is not None:
        query = query.where(Recording.status == status)
    if search:
        query = query.where(fn.LOWER(Recording.file_name).contains(search.lower()))
    total = query.count()
    processing_first = Recording.status != Status.PROCESSING.value
    query = query.order_by(processing_first, Recording.updated_at.desc(), Recording.id.desc())
    if limit:
        query = query.limit(limit)
    return [RecordingListItem.model_validate(row) for row in query], total


def show_recording(recording_id: int, settings: Settings) -> RecordingDetail:
    recording = get_recording(recording_id)
    return recording_detail(recording, existing_output_files(settings.output_dir, recording))
