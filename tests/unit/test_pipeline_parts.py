"""Pure parts of the pipeline: analytics, speakers, writers, messages."""

from rq.timeouts import JobTimeoutException

from whisperops.pipeline.diarization.speakers import assign_speakers
from whisperops.pipeline.failures import failure_message
from whisperops.pipeline.filename_fields import parse_filename_fields
from whisperops.pipeline.segments import Segment, SpeakerTurn, Word
from whisperops.pipeline.steps.analytics import compute_analytics
from whisperops.pipeline.writers import to_srt, to_txt, to_vtt


def test_analytics_from_segments() -> None:
    segments = [
        Segment(0.0, 4.0, "hello there how are you", "agent"),
        Segment(4.0, 6.0, "fine thanks", "customer"),
        Segment(12.0, 14.0, "good to hear", "agent"),
    ]
    stats = compute_analytics(segments, duration_sec=20.0)
    assert stats["speech_sec"] == 8.0
    assert stats["silence_sec"] == 12.0
    assert stats["talk_silence_ratio"] == round(8 / 12, 3)
    assert stats["speaker_talk_sec"] == {"agent": 6.0, "customer": 2.0}
    assert stats["speaker_turns"] == {"agent": 2, "customer": 1}
    assert stats["long_silences"] == [
        {"start": 6.0, "end": 12.0, "duration": 6.0},
        {"start": 14.0, "end": 20.0, "duration": 6.0},
    ]
    assert stats["word_count"] == 10
    assert stats["words_per_minute"] == 75.0
    assert stats["segment_count"] == 3
    assert stats["mean_segment_sec"] == round(8 / 3, 2)


def test_analytics_of_silence_is_empty_not_an_error() -> None:
    stats = compute_analytics([], duration_sec=30.0)
    assert stats["speech_sec"] == 0 and stats["silence_sec"] == 30.0
    assert stats["words_per_minute"] is None and stats["segment_count"] == 0


def test_speaker_by_largest_overlap_then_nearest_within_tolerance() -> None:
    segments = [
        Segment(0.0, 3.0, "a"),
        Segment(3.0, 5.0, "b"),
        Segment(9.2, 9.8, "c"),
        Segment(20.0, 21.0, "d"),
    ]
    turns = [
        SpeakerTurn(0.0, 1.0, "S1"),
        SpeakerTurn(1.0, 4.5, "S2"),
        SpeakerTurn(10.0, 12.0, "S1"),
    ]
    labelled = assign_speakers(segments, turns, tolerance_sec=0.5)
    assert [s.speaker for s in labelled] == ["S2", "S2", "S1", None]
    assert [s.speaker for s in segments] == [None] * 4  # the input is left as it was


def test_assign_speakers_splits_a_segment_where_the_speaker_changes() -> None:
    words = [
        Word(6.1, 6.5, " Hi"),
        Word(6.5, 7.0, " Alex."),
        Word(7.1, 7.4, " I"),  # timing jitter: one word just inside the other turn
        Word(7.4, 8.0, " see."),
        Word(8.9, 9.3, " Sorry"),
        Word(9.3, 9.6, " to"),
        Word(9.6, 9.9, " hear."),
    ]
    segment = Segment(6.1, 9.9, "Hi Alex. I see. Sorry to hear.", words=words)
    turns = [
        SpeakerTurn(6.0, 7.2, "customer"),
        SpeakerTurn(7.2, 7.35, "agent"),
        SpeakerTurn(7.35, 8.4, "customer"),
        SpeakerTurn(8.8, 10.0, "agent"),
    ]
    split = assign_speakers([segment], turns)
    assert [(s.start, s.end, s.speaker, s.text) for s in split] == [
        (6.1, 8.0, "customer", "Hi Alex. I see."),
        (8.9, 9.9, "agent", "Sorry to hear."),
    ]
    assert [w.text for w in split[1].words] == [" Sorry", " to", " hear."]


def test_filename_fields() -> None:
    pattern = r"(?P<phone>\+?\d{7,15})[_-](?P<recorded_at>\d{8}[T_-]?\d{6})"
    assert parse_filename_fields("+15551234567_20260102-153000.wav", pattern) == {
        "phone": "+15551234567",
        "recorded_at": "20260102-153000",
    }
    assert parse_filename_fields("meeting notes.mp3", pattern) == {}


def test_subtitle_and_text_formats() -> None:
    segments = [Segment(0.0, 1.5, "Hello.", "agent"), Segment(61.25, 3725.5, "Bye -->", None)]
    assert to_srt(segments) == (
        "1\n00:00:00,000 --> 00:00:01,500\n[agent] Hello.\n\n"
        "2\n00:01:01,250 --> 01:02:05,500\nBye -->\n"
    )
    assert to_vtt(segments) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n<v agent>Hello.\n\n"
        "00:01:01.250 --> 01:02:05.500\nBye ->\n"
    )
    assert to_txt(segments) == "agent: Hello.\nBye -->\n"


def test_failure_messages_follow_the_spec_formats() -> None:
    timeout = JobTimeoutException("Task exceeded maximum timeout value (1800 seconds)")
    assert failure_message("transcribe", 45, timeout) == (
        "Timeout in step transcribe (45 segments): "
        "JobTimeoutException('Task exceeded maximum timeout value (1800 seconds)')"
    )
    assert failure_message("diarization", 45, RuntimeError("no model")) == (
        "Step diarization failed: no model"
    )
    assert failure_message("transcribe", 3, RuntimeError("oom")) == (
        "Step transcribe (3 segments) failed: oom"
    )
