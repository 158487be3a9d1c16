"""A corpus of bad and awkward inputs through the inbox and one worker: each bad file
ends FAILED naming the step and the file, the good ones end DONE, nothing blocks.
The unreadable file has a test of its own: it needs root's read override dropped,
which some machines cannot do, and the rest of the corpus runs regardless."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from scripts.stereo_calls import write_wav
from tests.conftest import ON_SQLITE
from tests.integration.cli_runner import run_cli
from tests.privileges import without_read_override
from tests.reliability.harness import Workers, count, wait_until, worker_env
from whisperops.config import Settings
from whisperops.db import bind_database
from whisperops.migrations import migrate
from whisperops.models import Recording, Status, Transcript
from whisperops.runtime import init_runtime

TWO_HOURS = 2 * 3600


def encode_mp3(source: Path, target: Path) -> Path:
    """Real MP3 (libmp3lame through PyAV) of a WAV."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = out.add_stream("libmp3lame", rate=16000, layout="mono")
        resampler = av.AudioResampler(format="s16p", layout="mono", rate=16000)
        for frame in inp.decode(audio=0):
            for converted in resampler.resample(frame):
                out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return target


@pytest.fixture
def corpus_settings(settings: Settings, redis_url: str, redis, tmp_path: Path) -> Settings:
    configured = settings.replace(
        inbox_dir=tmp_path / "inbox",
        output_dir=tmp_path / "output",
        redis_url=redis_url,
        diarization_backend="none",
    )
    migrate(bind_database(configured.database_url.get_secret_value()), log=lambda _line: None)
    init_runtime(configured)
    return configured


def make_corpus(inbox: Path, speech_wav: Path, outside: Path) -> dict[str, Path]:
    inbox.mkdir(parents=True)
    speech = speech_wav.read_bytes()
    files = {
        "empty": inbox / "empty.wav",
        "random": inbox / "random bytes.wav",
        "truncated_wav": inbox / "truncated.wav",
        "truncated_mp3": inbox / "truncated.mp3",
        "text": inbox / "notes.m4a",
        "silence": inbox / "silence.wav",
        "two_hours": inbox / "two hours.wav",
        "deleted": inbox / "deleted.wav",
        "unicode": inbox / "Interview \u2013 Zoë & José 日本 (final).wav",
        "mp3": inbox / "voicemail.mp3",
        "duplicate": inbox / "same speech, other name.wav",
        "symlink": inbox / "link-outside.wav",
    }
    files["empty"].write_bytes(b"")
    files["random"].write_bytes(np.random.default_rng(0).bytes(64_000))
    files["truncated_wav"].write_bytes(speech[:40])  # cut inside the header
    mp3 = encode_mp3(speech_wav, outside / "full.mp3")
    files["truncated_mp3"].write_bytes(mp3.read_bytes()[:300])  # cut inside the first frame
    files["text"].write_text("this is a text file, not audio\n" * 50)
    write_wav(files["silence"], np.zeros(16000 * 10))
    clip = np.frombuffer(speech[44:], dtype="<i2").astype(np.float32) / 32768  # 22.05 kHz
    long = np.zeros(TWO_HOURS * 8000, dtype=np.float32)
    long[: len(clip) // 3] = clip[::3][: len(clip) // 3]  # speech first, then silence
    write_wav(files["two_hours"], long, sample_rate=8000)
    files["deleted"].write_bytes(speech + b"deleted")
    files["unicode"].write_bytes(speech)
    shutil.copy(mp3, files["mp3"])
    files["duplicate"].write_bytes(speech)
    target = outside / "elsewhere.wav"
    target.write_bytes(speech + b"outside")
    files["symlink"].symlink_to(target)
    for path in files.values():
        if not path.is_symlink():
            os.utime(path, (1_000_000, 1_000_000))  # settled long ago
    return files


FAILS_AT_EXTRACT = ["empty", "random", "truncated_wav", "truncated_mp3", "text", "deleted"]


def inbox_env(settings: Settings) -> dict[str, str]:
    env = worker_env(settings)
    env["WHISPEROPS_INBOX_DIR"] = str(settings.inbox_dir)
    env["WHISPEROPS_OUTPUT_DIR"] = str(settings.output_dir)
    env["WHISPEROPS_WATCHER_POLL_SEC"] = "1"
    return env


def process_all(env: dict[str, str], logs: Path, prefix: tuple[str, ...] = ()) -> str:
    """One worker (its command wrapped in ``prefix``) until nothing is queued or
    processing; its log."""
    workers = Workers(env, logs)
    try:
        workers.start("corpus", prefix=prefix)
        run_cli(env, "enqueue")
        wait_until(
            lambda: count(Status.QUEUED) + count(Status.PROCESSING) == 0,
            300,
            "every recording to finish",
        )
    finally:
        workers.stop_all()
    return workers.logs()


@ON_SQLITE  # the files are what is bad: their errors are written as every failure's are
def test_bad_input_corpus_fails_clearly_and_blocks_nothing(
    corpus_settings: Settings, speech_wav: Path, tmp_path: Path
) -> None:
    settings = corpus_settings
    outside = tmp_path / "outside"
    outside.mkdir()
    files = make_corpus(settings.inbox_dir, speech_wav, outside)
    env = inbox_env(settings)

    watched = run_cli(env, "watch", "--once")
    said = watched.stdout + watched.stderr
    assert watched.returncode == 0, said
    assert f"skipped  {files['duplicate']}: duplicate of #" in said
    assert "link-outside.wav" in said and "symlinks are not ingested" in said
    rows = {r.file_name: r for r in Recording.select()}
    assert files["symlink"].name not in rows and files["duplicate"].name not in rows
    ids = {key: rows[path.name].id for key, path in files.items() if path.name in rows}

    files["deleted"].unlink()  # after ingest
    logs = process_all(env, tmp_path / "logs")

    def row(key: str) -> Recording:
        return Recording.get_by_id(ids[key])

    for key in FAILS_AT_EXTRACT:
        failed = row(key)
        assert failed.status is Status.FAILED, (key, failed.error_message)
        assert failed.error_message.startswith("Step extract_metadata failed: "), key
        assert files[key].name in failed.error_message, key
    assert "file not found" in row("deleted").error_message

    silence = row("silence")
    assert silence.status is Status.DONE and silence.error_message is None
    assert Transcript.get(Transcript.recording == silence.id).text == ""

    two_hours = row("two_hours")
    assert two_hours.status is Status.DONE and two_hours.duration_sec == TWO_HOURS
    assert "Step 2: Transcribing audio... (duration 120m) recording_id=" in logs
    assert "Transcription progress: 1 segments (~" in logs

    for key in ("unicode", "mp3"):
        done = row(key)
        assert done.status is Status.DONE, (key, done.error_message)
        transcript = Transcript.get(Transcript.recording == done.id)
        assert "thank you for calling" in transcript.text.lower()
    outputs = [p.name for p in settings.output_dir.rglob("*.txt")]
    assert f"{ids['unicode']:06d}-Interview_Zoë_José_日本_final.txt" in outputs, outputs
    assert "Traceback" not in logs


def test_unreadable_file_fails_naming_it(
    corpus_settings: Settings, speech_wav: Path, tmp_path: Path
) -> None:
    """A file the worker may not read (its read permission enforced even for root)."""
    prefix = without_read_override(tmp_path)
    settings = corpus_settings
    settings.inbox_dir.mkdir(parents=True)
    unreadable = settings.inbox_dir / "unreadable.wav"
    unreadable.write_bytes(speech_wav.read_bytes())
    os.utime(unreadable, (1_000_000, 1_000_000))  # settled long ago
    env = inbox_env(settings)
    watched = run_cli(env, "watch", "--once")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    recording = Recording.get(Recording.file_name == unreadable.name)

    unreadable.chmod(0o000)
    try:
        logs = process_all(env, tmp_path / "logs", prefix)
    finally:
        unreadable.chmod(0o644)

    failed = Recording.get_by_id(recording.id)
    assert failed.status is Status.FAILED
    assert (
        failed.error_message == f"Step extract_metadata failed: no permission to read {unreadable}"
    )
    assert "Traceback" not in logs
