"""Choosing a diarization backend, and the channel backend on stereo calls with known turns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.stereo_calls import SPEAKERS, Turn, build_espeak_call
from tests.conftest import require_pyannote
from whisperops.config import ConfigError, Settings, load_settings
from whisperops.pipeline.diarization.channel_backend import ChannelDiarizer
from whisperops.pipeline.diarization.choice import choose_diarizer, diarization_backend
from whisperops.pipeline.diarization.embedding_backend import EmbeddingDiarizer
from whisperops.pipeline.diarization.protocol import Skip


@pytest.fixture
def base(tmp_path: Path) -> Settings:
    return load_settings(environ={"WHISPEROPS_DATA_DIR": str(tmp_path)})


def test_auto_picks_channel_for_stereo_and_embeddings_for_the_rest(base: Settings) -> None:
    """The auto matrix: pyannote when configured, channel for two channels, the packaged
    embeddings backend for mono and any other layout (dual mono: the step test)."""
    assert base.diarization_backend == "auto"
    assert isinstance(choose_diarizer(base, 2, 60.0), ChannelDiarizer)
    assert isinstance(choose_diarizer(base, 1, 60.0), EmbeddingDiarizer)
    assert isinstance(choose_diarizer(base, 6, 60.0), EmbeddingDiarizer)
    assert diarization_backend(base.replace(pyannote_model="/models/p"), 1, 60.0) == "pyannote"
    assert diarization_backend(base.replace(pyannote_model="/models/p"), 2, 60.0) == "pyannote"
    hinted = choose_diarizer(
        base.replace(
            diarization_backend="embeddings",
            diarization_min_speakers=2,
            diarization_max_speakers=3,
        ),
        2,
        60.0,
    )
    assert isinstance(hinted, EmbeddingDiarizer)
    assert (hinted.min_speakers, hinted.max_speakers) == (2, 3)


def test_none_and_channel_on_mono_are_not_pending(base: Settings) -> None:
    none = base.replace(diarization_backend="none")
    assert choose_diarizer(none, 2, 60.0) == Skip("diarization backend is 'none'", pending=False)
    channel = base.replace(diarization_backend="channel")
    skip = choose_diarizer(channel, 1, 60.0)
    assert isinstance(skip, Skip) and not skip.pending and "two channels" in skip.reason


def test_longer_than_maximum_is_skipped_and_pending(base: Settings) -> None:
    limited = base.replace(diarization_max_duration_sec=3600)
    skip = choose_diarizer(limited, 2, 3601.0)
    assert skip == Skip(
        "1h00m is longer than diarization_max_duration_sec (1h00m); pending re-diarization",
        pending=True,
    )
    assert isinstance(choose_diarizer(limited, 2, 3600.0), ChannelDiarizer)
    unlimited = base.replace(diarization_max_duration_sec=0)
    assert isinstance(choose_diarizer(unlimited, 2, 10 * 3600.0), ChannelDiarizer)


def test_channel_speaker_names_label_the_channels(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "WHISPEROPS_DATA_DIR": str(tmp_path),
            "WHISPEROPS_CHANNEL_SPEAKER_NAMES": " agent , customer ",
        }
    )
    assert settings.channel_speaker_names == ("agent", "customer")
    assert choose_diarizer(settings, 2, 1.0).speakers == ("agent", "customer")
    assert ChannelDiarizer(("agent",)).speakers == ("agent", "channel_2")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"WHISPEROPS_DIARIZATION_BACKEND": "pyannote"},
            "bad setting WHISPEROPS_DIARIZATION_BACKEND = 'pyannote': it needs "
            "WHISPEROPS_PYANNOTE_MODEL",
        ),
        ({"WHISPEROPS_DIARIZATION_BACKEND": "magic"}, "WHISPEROPS_DIARIZATION_BACKEND"),
        ({"WHISPEROPS_CHANNEL_SPEAKER_NAMES": "a,a"}, "distinct names"),
        ({"WHISPEROPS_DIARIZATION_DEVICE": "tpu"}, "WHISPEROPS_DIARIZATION_DEVICE"),
        (
            {
                "WHISPEROPS_DIARIZATION_MIN_SPEAKERS": "3",
                "WHISPEROPS_DIARIZATION_MAX_SPEAKERS": "2",
            },
            "WHISPEROPS_DIARIZATION_MIN_SPEAKERS = 3: it is more than",
        ),
    ],
)
def test_bad_diarization_settings_fail_at_start(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings(environ={"WHISPEROPS_DATA_DIR": str(tmp_path), **environ})


def test_hf_token_is_never_shown(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"WHISPEROPS_DATA_DIR": str(tmp_path), "WHISPEROPS_HF_TOKEN": "hf_s3cretT0ken"}
    )
    assert settings.hf_token.get_secret_value() == "hf_s3cretT0ken"
    assert "hf_s3cret" not in repr(settings)
    assert ("hf_token", "***") in settings.public_items()


def test_channel_backend_finds_the_turns_of_a_call_with_bleed_and_crosstalk(
    tmp_path: Path,
) -> None:
    call = build_espeak_call(tmp_path / "call.wav", bleed_db=-20.0, snr_db=30.0)
    turns = ChannelDiarizer(SPEAKERS).diarize(call.path).turns
    # Every reference turn is found on the right channel, the crosstalk one included,
    # and no turn is invented from the other party's bleed.
    for reference in call.turns:
        found = [
            t
            for t in turns
            if t.speaker == reference.speaker
            and min(t.end, reference.end) - max(t.start, reference.start) > 0
        ]
        covered = sum(min(t.end, reference.end) - max(t.start, reference.start) for t in found)
        assert covered >= 0.9 * (reference.end - reference.start), reference
    for turn in turns:
        assert any(
            r.speaker == turn.speaker and min(turn.end, r.end) - max(turn.start, r.start) > 0
            for r in call.turns
        ), f"turn from bleed or noise: {turn}"


def test_channel_backend_skips_a_mono_mix_saved_as_stereo(tmp_path: Path) -> None:
    """Both channels the same audio: no channel carries one party, so the channel
    backend gives no speakers (under auto the embeddings backend takes over) rather
    than everything to the first name."""
    from scripts.stereo_calls import read_wav_mono, resample, write_wav

    call = build_espeak_call(tmp_path / "call.wav")
    left, rate = read_wav_mono(call.path)  # the two parties mixed down
    mix = resample(left, rate)
    dual_mono = write_wav(tmp_path / "dual-mono.wav", mix, mix)
    assert ChannelDiarizer(SPEAKERS).diarize(dual_mono) == Skip(
        "both channels carry the same audio (a mono mix saved as stereo)", pending=False
    )


def test_channel_backend_der(tmp_path: Path) -> None:
    """DER against the known turns, by pyannote.metrics (printed; target <= 5%)."""
    require_pyannote()
    import pyannote.audio

    from scripts.stereo_calls import build_call_from_reference, diarization_error_rate

    sample = Path(os.path.dirname(pyannote.audio.__file__)) / "sample"
    calls = {
        "espeak call": build_espeak_call(tmp_path / "call.wav"),
        "pyannote sample.wav": build_call_from_reference(
            tmp_path / "sample.wav", sample / "sample.wav", sample / "sample.rttm"
        ),
    }
    for name, call in calls.items():
        hypothesis = [
            Turn(t.start, t.end, t.speaker)
            for t in ChannelDiarizer(SPEAKERS).diarize(call.path).turns
        ]
        der = diarization_error_rate(call.turns, hypothesis)
        print(f"channel backend DER on {name} (bleed -20 dB, SNR 30 dB): {der:.1%}")
        assert der <= 0.05, name


def test_device_choice_for_pyannote() -> None:
    require_pyannote()
    import torch

    from whisperops.pipeline.diarization.pyannote_backend import (
        DiarizationUnavailable,
        resolve_device,
    )

    assert resolve_device("cpu") == "cpu"
    if torch.cuda.is_available():
        assert resolve_device("auto") == "cuda"
        return
    assert resolve_device("auto") == "cpu"
    with pytest.raises(DiarizationUnavailable, match="torch sees no CUDA device"):
        resolve_device("cuda")
