"""Per-process state of a long-running whisperops process: its settings (the database is
bound for them when they are set)."""

from __future__ import annotations

from dataclasses import dataclass

from whisperops.config import Settings, load_settings
from whisperops.db import bind_database


@dataclass(frozen=True)
class Runtime:
    settings: Settings


_current: Runtime | None = None


def init_runtime(settings: Settings) -> Runtime:
    """Bind the database for ``settings`` and make them this process's runtime."""
    global _current
    bind_database(settings.database_url.get_secret_value())
    _current = Runtime(settings)
    return _current


def runtime() -> Runtime:
    """This process's runtime, loaded from the environment on first use."""
    return _current or init_runtime(load_settings())
