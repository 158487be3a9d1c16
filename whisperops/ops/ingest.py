"""Ingest: record audio files and folders as QUEUED recordings, once per path and content."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from peewee import IntegrityError

from whisperops.clock import db_now
from whisperops.config import Settings
from whisperops.db import database_proxy
from whisperops.models import Recording, Status

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
    now = now or db_now()
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
