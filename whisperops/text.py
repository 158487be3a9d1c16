"""Plain-text rendering shared by the CLI and the console (no markup, ever).

Control characters in stored text are escaped, so a file name cannot drive the
terminal; durations, sizes and times have one format each.
"""

from __future__ import annotations

from datetime import datetime

from whisperops.clock import as_utc, utcnow
from whisperops.models import Status
from whisperops.schemas import RecordingDetail


def literal(text: str | None) -> str:
    """``text`` with control characters escaped, so a file name cannot drive the terminal."""
    if text is None:
        return ""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def dash(value: object) -> str:
    """``value`` as text, or '-' when there is none."""
    return "-" if value is None else str(value)


def truncate(text: str | None, width: int) -> str:
    text = literal(text)
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def format_duration(seconds: float | None, *, fraction: bool = False, minutes: bool = False) -> str:
    """Compact human duration: 45s, 2m05s, 12m, 1h05m, 3d02h; '-' for none.

    With ``fraction``, durations under a minute keep two decimals (0.25s), for
    times where the split second is the point (one step of a job). With
    ``minutes``, a minute or more is whole minutes (28m, 120m): the job log's form.
    """
    if seconds is None:
        return "-"
    if minutes and seconds >= 60:
        return f"{round(seconds / 60)}m"
    if fraction and seconds < 60:
        return f"{seconds:.2f}s"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s" if minutes < 10 else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long before ``now`` (default: the current time) ``moment`` was."""
    if moment is None:
        return "-"
    return format_duration((as_utc(now or utcnow()) - as_utc(moment)).total_seconds())


def format_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def format_timestamp(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


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
    if detail.status is Status.QUEUED and detail.resume_from_step:
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
                )
                + f"; {len(talk)} speaker{'' if len(talk) == 1 else 's'}",
            )
    if detail.steps:
        lines.append("Steps:")
        for step in detail.steps:
            outcome = step.outcome.value if step.outcome else "running"
            took = format_duration(step.duration_sec, fraction=True)
            lines.append(
                f"  attempt {step.attempt:<3} {step.step:<17} {outcome:<8} "
                f"{took:>7}  {format_timestamp(step.started_at)}"
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
                f"  [{_offset(segment.start_sec)} - {_offset(segment.end_sec)}] "
                f"{speaker}{literal(segment.text.strip())}"
            )
        if len(transcript.segments) > 10:
            lines.append(f"  ... {len(transcript.segments) - 10} more segments")
    if detail.output_files:
        lines.append("Output files:")
        lines.extend(f"  {literal(path)}" for path in detail.output_files)
    return "\n".join(lines)


def _offset(seconds: float) -> str:
    """A position in the audio, as a player shows it: 01:05.3."""
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):02d}:{secs:04.1f}"
