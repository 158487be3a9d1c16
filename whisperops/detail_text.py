"""The plain-text view of one recording, shared by `whisperops show` and the console."""

from __future__ import annotations

from datetime import datetime

from whisperops.formatting import (
    age,
    dash,
    format_bytes,
    format_duration,
    format_timestamp,
    literal,
)
from whisperops.schemas import RecordingDetail


def render_detail(detail: RecordingDetail, now: datetime | None = None) -> str:
    """Human-readable view of one recording."""
    lines = [f"Recording #{detail.id}  {literal(detail.file_name)}"]

    def row(label: str, value: object) -> None:
        lines.append(f"  {label:<12}{value}")

    row("path", literal(detail.file_path))
    status = detail.status.value
    if detail.processing_step:
        status += (
            f" (step {detail.processing_step} for "
            f"{age(detail.processing_step_started_at, now)}, "
            f"{detail.processing_segments_count or 0} segments)"
        )
    row("status", status)
    row("attempt", f"{detail.attempt}   retries {detail.retry_count}")
    if detail.status.value == "queued" and detail.resume_from_step:
        row("resumes at", f"{detail.resume_from_step} (the transcript is kept)")
    if detail.diarization_pending:
        row(
            "diarization",
            f"pending: see the diarization step below; `whisperops rediarize {detail.id}` "
            "redoes it",
        )
    row("size", f"{format_bytes(detail.size_bytes)}   sha256 {detail.sha256}")
    if detail.duration_sec is not None:
        row(
            "audio",
            f"{format_duration(detail.duration_sec)}, {dash(detail.sample_rate)} Hz, "
            f"{dash(detail.channels)} ch, {dash(detail.codec)} in "
            f"{dash(detail.container_format)}, "
            f"{dash(detail.bit_rate and detail.bit_rate // 1000)} kb/s",
        )
    if detail.parsed_fields:
        row("parsed", ", ".join(f"{k}={literal(str(v))}" for k, v in detail.parsed_fields.items()))
    row("created", format_timestamp(detail.created_at))
    row("updated", f"{format_timestamp(detail.updated_at)} ({age(detail.updated_at, now)} ago)")
    if detail.processed_at:
        row("processed", format_timestamp(detail.processed_at))
    if detail.error_message:
        row("error", literal(detail.error_message))
    if detail.analytics:
        stats = detail.analytics
        row(
            "analytics",
            f"speech {format_duration(stats.get('speech_sec'))}, "
            f"silence {format_duration(stats.get('silence_sec'))}, "
            f"{stats.get('word_count')} words, "
            f"{stats.get('words_per_minute') or '-'} wpm, "
            f"{len(stats.get('long_silences') or [])} silences >= 5s",
        )
        talk = stats.get("speaker_talk_sec") or {}
        if talk:
            turns = stats.get("speaker_turns") or {}
            row(
                "speakers",
                ", ".join(
                    f"{literal(name)} {format_duration(sec)} ({turns.get(name, 0)} turns)"
                    for name, sec in talk.items()
                ),
            )
    if detail.steps:
        lines.append("Steps:")
        for step in detail.steps:
            outcome = step.outcome.value if step.outcome else "running"
            lines.append(
                f"  attempt {step.attempt:<3} {step.step:<17} {outcome:<8} "
                f"{_step_seconds(step.duration_sec):>7}  {format_timestamp(step.started_at)}"
                + (f"  {literal(step.detail)}" if step.detail else "")
            )
    if detail.transcript:
        transcript = detail.transcript
        lines.append(
            f"Transcript ({transcript.language or '?'}, model {transcript.model_name}, "
            f"{len(transcript.segments)} segments):"
        )
        for segment in transcript.segments[:10]:
            speaker = f"{literal(segment.speaker)}: " if segment.speaker else ""
            lines.append(
                f"  [{_clock(segment.start_sec)} - {_clock(segment.end_sec)}] "
                f"{speaker}{literal(segment.text.strip())}"
            )
        if len(transcript.segments) > 10:
            lines.append(f"  ... {len(transcript.segments) - 10} more segments")
    if detail.output_files:
        lines.append("Output files:")
        lines.extend(f"  {literal(path)}" for path in detail.output_files)
    return "\n".join(lines)


def _step_seconds(seconds: float | None) -> str:
    if seconds is None or seconds >= 60:
        return format_duration(seconds)
    return f"{seconds:.2f}s"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):02d}:{secs:04.1f}"
