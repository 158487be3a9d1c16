"""Long segments are cut into readable cues at punctuation and pauses."""

import itertools

from whisperops.pipeline.resegment import MAX_CUE_CHARS, MAX_CUE_SEC, readable
from whisperops.pipeline.segments import Segment, Word


def timed_words(text: str, start: float, per_word: float, pause_after: dict[int, float]):
    words, at = [], start
    for i, token in enumerate(text.split()):
        words.append(Word(at, at + per_word, f" {token}"))
        at += per_word + pause_after.get(i, 0.0)
    return words


def test_a_short_segment_is_left_alone() -> None:
    segment = Segment(1.0, 4.0, "Hello, how are you?")
    assert readable(segment) == [segment]


def test_long_segment_with_words_is_cut_between_words_at_a_sentence_end_and_pause() -> None:
    text = (
        "I called last week about the router in the living room. "
        "Nobody came and the line still drops every evening after dinner"
    )
    # One word every 0.5 s; a 0.8-s pause after "room." (the 11th word).
    words = timed_words(text, 10.0, 0.45, {i: 0.05 for i in range(30)} | {10: 0.8})
    segment = Segment(words[0].start, words[-1].end, text, "agent", words)
    pieces = readable(segment)
    assert len(pieces) >= 2
    assert pieces[0].text.endswith("living room.")
    assert all(p.duration <= MAX_CUE_SEC and len(p.text) <= MAX_CUE_CHARS for p in pieces)
    assert all(p.speaker == "agent" for p in pieces)
    # Nothing lost, nothing repeated, in order, and each cue's time is its words' time.
    assert " ".join(p.text for p in pieces) == text
    assert [w for p in pieces for w in p.words] == words
    for piece in pieces:
        assert (piece.start, piece.end) == (piece.words[0].start, piece.words[-1].end)


def test_long_segment_without_words_is_cut_at_punctuation_with_times_shared_by_length() -> None:
    text = (
        "Okay, then I thought you know, I heard a beep. This is Diane in New Jersey, "
        "and I'm Sheila in Texas, originally from Chicago, so what can I say?"
    )
    segment = Segment(0.0, 14.0, text)
    pieces = readable(segment)
    assert len(pieces) >= 2
    assert all(p.duration <= MAX_CUE_SEC and len(p.text) <= MAX_CUE_CHARS for p in pieces)
    assert pieces[0].text.endswith((".", ","))
    assert " ".join(p.text for p in pieces) == text
    assert pieces[0].start == 0.0 and pieces[-1].end == 14.0
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))


def test_a_single_long_word_cannot_be_cut_and_is_kept() -> None:
    segment = Segment(0.0, 9.0, "Aaaaaaaaah")
    assert readable(segment) == [segment]
