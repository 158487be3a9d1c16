"""Shared set-up for the benchmarks: a scratch whisperops, speech made with espeak-ng."""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

from redis import Redis

from tests.audio import write_speech_wav
from whisperops.config import Settings, load_settings
from whisperops.db import database_proxy
from whisperops.migrations import migrate
from whisperops.runtime import init_runtime

# Distinct sentences of call-centre talk: repeating a handful of templates makes
# Whisper fall back to re-decoding (a repetition loop), which no real call does.
LINES = [
    "Good morning, thanks for calling, this is Maria speaking, how can I help you today?",
    "Hi, I am calling because my internet has been dropping every evening since Tuesday.",
    "I am sorry to hear that, could you give me the account number on your last invoice?",
    "Sure, it starts with four seven two, then eight one nine, and ends with fifty three.",
    "Thank you, I can see two outages in your area this week, both fixed yesterday night.",
    "That explains a lot, but the connection still feels slower than it used to be.",
    "Let me run a line test from here, it takes about a minute, please stay on the line.",
    "While we wait, is the router in the hallway or closer to the room where you work?",
    "It sits on a shelf next to the television, behind a glass door in the living room.",
    "Glass and metal cabinets can weaken the signal, try moving it to an open space.",
    "The test is finished, the line looks healthy, the speed reaches ninety megabits.",
    "Our contract promised one hundred, so ninety is close enough for me, I suppose.",
    "I will also send a replacement power adapter, the old model tends to overheat.",
    "When would it arrive, because I travel to Lisbon for a conference next Thursday.",
    "Delivery usually takes two working days, so you should have it by Wednesday noon.",
    "Perfect, and will anyone need to come to the house to install the new adapter?",
    "No visit is needed, just unplug the old one and connect the new one in its place.",
    "Great, one more question, my bill went up by twelve euros in October, why is that?",
    "The promotional discount ended after twelve months, that is the difference you see.",
    "Could I get another discount if I sign up for the television package as well?",
    "There is an offer this month, the bundle costs less than both services separately.",
    "Please email me the details and I will discuss it with my wife over the weekend.",
    "Of course, I have sent it to the address ending in gmail dot com, is that correct?",
    "Yes, that is the right one, thank you for being so patient with all my questions.",
    "You are welcome, is there anything else I can do for you before we finish today?",
    "Actually yes, the parental controls app keeps asking me to log in again every day.",
    "That happens after the latest update, reinstalling the app usually solves it.",
    "I will try that tonight, and if it still fails I will call back and mention this.",
    "Your case number is nine nine three one, anyone in the team can look it up quickly.",
    "Wonderful, I wrote it down on the back of the envelope next to the phone.",
    "The weather has been terrible, our garden flooded twice during the autumn storms.",
    "I hope the sun returns soon, we had snow in the mountains already last week.",
    "My daughter starts university in Utrecht, so she needs a mobile plan of her own.",
    "Students get half price on the first year, she only needs to show her student card.",
    "Brilliant, she will visit the shop in the city centre on Saturday morning then.",
    "The shop opens at nine and the queue is shortest right after opening time.",
    "Thanks again Maria, you have been very helpful, I wish you a pleasant afternoon.",
    "Thank you for calling, and enjoy the conference in Lisbon, goodbye for now.",
]
VOICES = ["en-us", "en", "en-us+f3", "en+m3"]


def sentences(seed: int, count: int) -> str:
    rng = random.Random(seed)
    order = rng.sample(LINES, len(LINES))
    return " ".join(order[i % len(order)] for i in range(count))


def speech_file(folder: Path, name: str, seconds: float, seed: int) -> Path:
    """Speech of roughly ``seconds`` (espeak-ng at 150 words per minute, ~15 words a line)."""
    count = max(1, round(seconds * 150 / 60 / 15))
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
    settings = settings.replace(**overrides)
    init_runtime(settings)
    migrate(database_proxy.obj, log=lambda _line: None)
    return settings


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_exc) -> None:
        self.seconds = time.perf_counter() - self.started
