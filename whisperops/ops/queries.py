"""Reading recordings: one, a filtered list, or one with everything known about it."""

from __future__ import annotations

from peewee import fn

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
