"""Operations on recordings: the one place the CLI, the console and the sweep change state."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from peewee import IntegrityError, fn

from whisperops.config import Settings
from whisperops.db import database_proxy, utcnow
from whisperops.errors import InvalidTransitionError, NotFoundError, WhisperopsError
from whisperops.models import Recording, Status, no_progress
from whisperops.outputs import existing_output_files
from whisperops.schemas import RecordingDetail, RecordingListItem, recording_detail

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class AddResult:
    """What happened to one path given to :func:`add_paths`."""

    path: Path
    outcome: str  # "added", "skipped" or "error"
    reason: str = ""
    recording_id: int | None = None

    def describe(self) -> str:
        if self.outcome == "added":
            return f"added    #{self.recording_id}  {self.path}"
        return f"{self.outcome:<8} {self.path}: {self.reason}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _within(path: Path, folders: Iterable[Path]) -> bool:
    return any(path.is_relative_to(folder.resolve()) for folder in folders)


def _candidates(path: Path) -> Iterator[Path]:
    """The files to consider for ``path``: itself, or every file below a folder."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() or child.is_symlink():
                yield child
    else:
        yield path


def ingest_file(path: Path, settings: Settings, now: datetime | None = None) -> AddResult:
    """Record one audio file as a QUEUED recording, or say why it was not taken."""
    shown = path.absolute()
    if not path.exists():
        return AddResult(
            shown, "error", "no such file" if not path.is_symlink() else "broken symlink"
        )
    resolved = path.resolve()
    if settings.allowed_dirs and not _within(resolved, settings.allowed_dirs):
        allowed = ", ".join(str(folder) for folder in settings.allowed_dirs)
        return AddResult(shown, "skipped", f"outside the allowed folders ({allowed})")
    if not resolved.is_file():
        return AddResult(shown, "skipped", "not a regular file")
    suffix = resolved.suffix.lower()
    if suffix not in settings.audio_extensions:
        return AddResult(shown, "skipped", f"not an audio file extension ({suffix or 'none'})")
    existing = Recording.get_or_none(Recording.file_path == str(resolved))
    if existing is not None:
        return AddResult(shown, "skipped", f"already ingested as #{existing.id}", existing.id)
    try:
        size = resolved.stat().st_size
        digest = sha256_of(resolved)
    except OSError as exc:
        return AddResult(shown, "error", f"cannot read: {exc.strerror or exc}")
    duplicate = Recording.get_or_none(Recording.sha256 == digest)
    if duplicate is not None:
        return _duplicate(shown, duplicate)
    now = now or utcnow()
    try:
        with database_proxy.atomic():
            recording = Recording.create(
                file_path=str(resolved),
                file_name=resolved.name,
                sha256=digest,
                size_bytes=size,
                status=Status.QUEUED,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        # Another process ingested the same path or content between our check and insert.
        twin = Recording.get_or_none(
            (Recording.sha256 == digest) | (Recording.file_path == str(resolved))
        )
        if twin is None:
            raise
        return _duplicate(shown, twin)
    log.info(
        "Ingested recording %s file_name=%r size_bytes=%d", recording.id, recording.file_name, size
    )
    return AddResult(shown, "added", recording_id=recording.id)


def _duplicate(shown: Path, twin: Recording) -> AddResult:
    return AddResult(
        shown, "skipped", f"duplicate of #{twin.id} {twin.file_name} (same SHA-256)", twin.id
    )


def add_paths(paths: Iterable[Path], settings: Settings) -> list[AddResult]:
    """Ingest files and folders (recursively); one result per file considered."""
    results = []
    for path in paths:
        if not path.exists() and not path.is_symlink():
            results.append(AddResult(path.absolute(), "error", "no such file or folder"))
            continue
        results.extend(ingest_file(candidate, settings) for candidate in _candidates(path))
    return results


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


def _guarded_update(recording: Recording, **changes) -> Recording:
    """Apply ``changes`` only if nobody changed the recording's attempt meanwhile.

    The attempt is the fencing token; a worker or another operator that moved the
    recording on since we read it makes this update a no-op, and we say so.
    """
    updated = (
        Recording.update(**changes)
        .where((Recording.id == recording.id) & (Recording.attempt == recording.attempt))
        .execute()
    )
    if updated != 1:
        raise WhisperopsError(
            f"recording #{recording.id} changed while this was applied; look again and retry"
        )
    return get_recording(recording.id)


def _step_context(recording: Recording) -> str:
    if recording.status != Status.PROCESSING or not recording.processing_step:
        return ""
    segments = recording.processing_segments_count or 0
    return f" in step {recording.processing_step} ({segments} segments)"


def requeue(recording_id: int, now: datetime | None = None) -> Recording:
    """Put a recording back in the queue, fencing off any job still running for it.

    The attempt is bumped so a worker still holding the old attempt can no longer
    write; retry_count restarts at 0 because an operator decided to try again.
    """
    recording = get_recording(recording_id)
    if recording.status == Status.QUEUED:
        raise InvalidTransitionError(f"recording #{recording_id} is already queued")
    result = _guarded_update(
        recording,
        status=Status.QUEUED,
        attempt=recording.attempt + 1,
        retry_count=0,
        error_message=None,
        resume_from_step=None,  # an operator's requeue runs every step again
        **no_progress(),
        updated_at=now or utcnow(),
    )
    log.info(
        "Requeued recording %s file_name=%r (was %s%s)",
        recording.id,
        recording.file_name,
        recording.status.value,
        _step_context(recording),
    )
    return result


def fail(recording_id: int, reason: str, now: datetime | None = None) -> Recording:
    """Mark a queued or processing recording FAILED with the operator's reason."""
    reason = reason.strip()
    if not reason:
        raise InvalidTransitionError("a reason is required to fail a recording")
    recording = get_recording(recording_id)
    if recording.status in (Status.DONE, Status.FAILED):
        raise InvalidTransitionError(
            f"recording #{recording_id} is already {recording.status.value}; "
            "only queued or processing recordings can be failed"
        )
    message = f"Failed by operator{_step_context(recording)}: {reason}"
    result = _guarded_update(
        recording,
        status=Status.FAILED,
        attempt=recording.attempt + 1,
        error_message=message,
        **no_progress(),
        updated_at=now or utcnow(),
    )
    log.info(
        "Failed recording %s file_name=%r by operator: %s",
        recording.id,
        recording.file_name,
        message,
    )
    return result


REDIARIZE_FROM = "diarization"


def _queued_for_rediarization(now: datetime | None) -> dict:
    """The changes that queue a done recording to resume at the diarization step."""
    return {
        "status": Status.QUEUED,
        "resume_from_step": REDIARIZE_FROM,
        "retry_count": 0,
        "updated_at": now or utcnow(),
    }


def rediarize(recording_id: int, now: datetime | None = None) -> Recording:
    """Queue a done recording for diarization, analytics and store_results again.

    The transcript is kept and not recomputed; the worker that picks the recording
    up starts at the diarization step with today's diarization settings.
    """
    recording = get_recording(recording_id)
    if recording.status != Status.DONE:
        raise InvalidTransitionError(
            f"recording #{recording_id} is {recording.status.value}; only done recordings "
            "(which have a transcript) can be re-diarized"
        )
    result = _guarded_update(recording, **_queued_for_rediarization(now))
    log.info(
        "Queued recording %s file_name=%r for re-diarization", recording.id, recording.file_name
    )
    return result


def rediarize_pending(now: datetime | None = None) -> int:
    """Queue every done recording flagged diarization_pending; returns how many."""
    count = (
        Recording.update(**_queued_for_rediarization(now))
        .where(Recording.diarization_pending & (Recording.status == Status.DONE.value))
        .execute()
    )
    log.info("Queued %d recordings pending diarization for re-diarization", count)
    return count
