"""Plain-text rendering and the UTC clock: one format per kind of value."""

from datetime import UTC, datetime, timedelta, timezone

from whisperops.clock import as_utc, utcnow
from whisperops.text import age, format_duration, format_timestamp, literal, truncate


def test_one_duration_format_from_seconds_to_days() -> None:
    assert format_duration(None) == "-"
    assert format_duration(-3) == "0s"
    assert format_duration(42.7) == "42s"
    assert format_duration(125) == "2m05s"
    # The job log's form: whole minutes.
    assert format_duration(28 * 60 + 10, minutes=True) == "28m"
    assert format_duration(120 * 60, minutes=True) == "120m"
    assert format_duration(42.7, minutes=True) == "42s"
    assert format_duration(28 * 60 + 10) == "28m"
    assert format_duration(3900) == "1h05m"
    assert format_duration(3 * 86400 + 7200) == "3d02h"


def test_fractions_of_a_second_only_where_asked() -> None:
    assert format_duration(3.256, fraction=True) == "3.26s"
    assert format_duration(3.256) == "3s"
    assert format_duration(125, fraction=True) == "2m05s"
    assert format_duration(None, fraction=True) == "-"


def test_stored_naive_times_are_utc() -> None:
    stored = datetime(2026, 11, 30, 12, 0, 0)
    assert as_utc(stored) == stored.replace(tzinfo=UTC)
    assert as_utc(stored).tzinfo is UTC
    in_paris = datetime(2026, 11, 30, 13, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(in_paris) == stored.replace(tzinfo=UTC) and as_utc(in_paris).tzinfo is UTC
    assert as_utc(None) is None
    assert utcnow().tzinfo is None
    assert abs(as_utc(utcnow()) - datetime.now(UTC)) < timedelta(seconds=5)


def test_age_and_timestamps_take_stored_and_aware_times_alike() -> None:
    stored = datetime(2026, 11, 30, 12, 0, 0)
    now = (stored + timedelta(minutes=2, seconds=5)).replace(tzinfo=UTC)
    assert age(stored, now) == age(stored.replace(tzinfo=UTC), now.replace(tzinfo=None)) == "2m05s"
    assert age(None, now) == "-"
    assert format_timestamp(stored) == "2026-11-30 12:00:00 UTC"
    assert format_timestamp(stored.replace(tzinfo=UTC)) == "2026-11-30 12:00:00 UTC"


def test_control_characters_are_shown_not_obeyed() -> None:
    assert literal("a\x1b[2Jb\n.wav") == "a\\x1b[2Jb\\n.wav"
    assert truncate("abcdef", 4) == "abc…"
