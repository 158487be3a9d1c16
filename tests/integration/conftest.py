"""Fixtures for tests that run the pipeline."""

from __future__ import annotations

import pytest
from redis import Redis

from scripts.stereo_calls import StereoCall, build_espeak_call
from whisperops.config import Settings
from whisperops.runtime import init_runtime


@pytest.fixture
def pipeline_settings(settings: Settings, redis_url: str, redis: Redis, migrated_db) -> Settings:
    configured = settings.replace(redis_url=redis_url, heartbeat_interval_sec=1)
    init_runtime(configured)
    return configured


@pytest.fixture(scope="module")
def stereo_call(tmp_path_factory: pytest.TempPathFactory) -> StereoCall:
    """A two-party espeak-ng call, one party per channel."""
    return build_espeak_call(tmp_path_factory.mktemp("calls") / "call-0042.wav")


def configure(settings: Settings, **changes) -> Settings:
    """``settings`` with ``changes``, made this process's runtime."""
    configured = settings.replace(**changes)
    init_runtime(configured)
    return configured
