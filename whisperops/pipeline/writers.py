"""store_results' files: the transcript document as JSON, SRT, VTT and TXT, written
atomically, all four or none."""

from __future__ import annotations

import glob
import json
import os
import tempfile
from pathlib import Path

from whisperops.errors import WhisperopsError
from whisperops.models import Recording
from whisperops.pipeline.segments import Segment


class OutputWriteError(WhisperopsError):
    """An output file could not be written (disk full, folder not writable, ...)."""


def atomic_write(files: dict[Path, str]) -> None:
    """Write every file to a temp file beside it, then rename each over its path.

    All or none: a write that fails (disk full, folder not writable) removes the
    temp files and leaves the earlier files as they were, and readers see an old
    file or a new one, never half of one. Temp files (``.NAME.RANDOM.tmp``) that a
    killed worker left for these paths are removed first.

    Raises:
        OutputWriteError: naming the file, e.g. "No space left on device writing …".
    """
    temps: list[Path] = []
    try:
        for path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
                stale.unlink(missing_ok=True)
        for path, text in files.items():
            handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps.append(Path(temp))
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
        for path, temp in zip(files, temps, strict=True):
            os.replace(temp, path)
    except OSError as exc:
        raise OutputWriteError(f"{exc.strerror or exc} writing {path}") from exc
    finally:
        for temp in temps:  # renamed ones are gone already
            temp.unlink(missing_ok=True)


def _clock(seconds: float, separator: str) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(segments: list[Segment]) -> str:
    blocks = []
    for number, segment in enumerate(segments, start=1):
        speaker = f"[{segment.speaker}] " if segment.speaker else ""
        blocks.append(
            f"{number}\n{_clock(segment.start, ',')} --> {_clock(segment.end, ',')}\n"
            f"{speaker}{segment.text}\n"
        )
    return "\n".join(blocks)


def to_vtt(segments: list[Segment]) -> str:
    blocks = ["WEBVTT\n"]
    for segment in segments:
        text = segment.text.replace("-->", "->")
        voice = f"<v {segment.speaker}>" if segment.speaker else ""
        blocks.append(
            f"{_clock(segment.start, '.')} --> {_clock(segment.end, '.')}\n{voice}{text}\n"
        )
    return "\n".join(blocks)


def to_txt(segments: list[Segment]) -> str:
    lines = [f"{s.speaker}: {s.text}" if s.speaker else s.text for s in segments]
    return "\n".join(lines) + ("\n" if lines else "")


def to_json(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def transcript_document(
    recording: Recording,
    *,
    language: str | None,
    language_probability: float | None,
    model: str,
    duration_sec: float | None,
    segments: list[Segment],
    analytics: dict,
) -> dict:
    """The JSON output: the recording, the text, every segment with its words, analytics."""
    return {
        "recording_id": recording.id,
        "file_name": recording.file_name,
        "file_path": recording.file_path,
        "language": language,
        "language_probability": language_probability,
        "model": model,
        "duration_sec": duration_sec,
        "text": full_text(segments),
        "segments": [
            {
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "text": s.text,
                "speaker": s.speaker,
                "words": [
                    {"start": round(w.start, 3), "end": round(w.end, 3), "word": w.text.strip()}
                    for w in s.words
                ],
            }
            for s in segments
        ],
        "analytics": analytics,
    }


def full_text(segments: list[Segment]) -> str:
    return " ".join(segment.text for segment in segments).strip()


def render_outputs(document: dict, segments: list[Segment]) -> dict[str, str]:
    """Each output format's text, keyed like :func:`whisperops.outputs.output_paths`."""
    return {
        "json": to_json(document),
        "srt": to_srt(segments),
        "vtt": to_vtt(segments),
        "txt": to_txt(segments),
    }
