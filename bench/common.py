"""Shared set-up for the benchmarks: a scratch whisperops, speech made with espeak-ng."""

from __future__ import annotations

import dataclasses
import os
import random
import tempfile
import time
from pathlib import Path

from redis import Redis

from tests.audio import write_speech_wav
from whisperops.config import Settings, load_settings
from whisperops.migrations import migrate
from whisperops.runtime import init_runtime

SUBJECTS = [
    "the customer",
    "my colleague",
    "the engineer",
    "our manager",
    "the caller",
    "the support team",
    "your account",
    "the delivery",
    "this invoice",
    "the new order",
]
VERBS = [
    "needs",
    "asked about",
    "will check",
    "has updated",
    "cannot find",
    "wants to change",
    "confirmed",
    "is waiting for",
    "reported",
    "will send",
]
OBJECTS = [
    "the payment on Monday",
    "a refund for last month",
    "the shipping address",
    "two more licenses",
    "the contract renewal",
    "a callback tomorrow morning",
    "the broken router",
    "the password reset",
    "an updated quote",
    "the meeting notes",
]
VOICES = ["en-us", "en", "en-us+f3", "en+m3"]


def sentences(seed: int, count: int) -> str:
    rng = random.Random(seed)
    return " ".join(
        f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
        for _ in range(count)
    )


def speech_file(folder: Path, name: str, seconds: float, seed: int) -> Path:
    """Speech of roughly ``seconds`` (espeak-ng at 150 words per minute, ~6 words a sentence)."""
    count = max(1, round(seconds * 150 / 60 / 6.2))
    voice = VOICES[seed % len(VOICES)]
    return write_speech_wav(folder / name, text=sentences(seed, count), voice=voice)


def scratch_settings(**overrides) -> Settings:
    """Settings for a throwaway data dir on SQLite, with Redis from REDIS_URL or localhost."""
    folder = Path(tempfile.mkdtemp(prefix="whisperops-bench-"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    Redis.from_url(redis_url).flushdb()
    settings = load_settings(
        environ={
            "WHISPEROPS_DATA_DIR": str(folder / "data"),
            "REDIS_URL": redis_url,
            "HOME": str(folder),
        }
    )
    settings = dataclasses.replace(settings, **overrides)
    runtime = init_runtime(settings)
    migrate(runtime.database, log=lambda _line: None)
    return settings


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_exc) -> None:
        self.seconds = time.perf_counter() - self.started
