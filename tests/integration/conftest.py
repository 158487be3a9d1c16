"""Fixtures for tests that run the pipeline."""

from __future__ import annotations

import dataclasses

import pytest
from redis import Redis

from whisperops.config import Settings
from whisperops.runtime import init_runtime


@pytest.fixture
def pipeline_settings(settings: Settings, redis_url: str, redis: Redis, migrated_db) -> Settings:
    configured = dataclasses.replace(settings, redis_url=redis_url, heartbeat_interval_sec=1)
    init_runtime(configured)
    return configured
