"""Plain-text rendering shared by the CLI and the console (no markup, ever)."""

from __future__ import annotations

from datetime import UTC, datetime


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


def format_duration(seconds: float | None) -> str:
    """Compact human duration: 45s, 12m, 1h05m, 3d02h."""
    if seconds is None:
        return "-"
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
    """How long ago ``moment`` (naive UTC or aware) was."""
    if moment is None:
        return "-"
    now = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return format_duration((now - moment).total_seconds())


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
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
