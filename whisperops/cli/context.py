"""What every command shares: the settings and the database, loaded on first use so
``--help`` needs neither, and the waits of long-running processes for them."""

from __future__ import annotations

import logging
import sys

import click

from whisperops.config import Settings, load_settings
from whisperops.db import bind_database
from whisperops.errors import ConfigError, WhisperopsError
from whisperops.health.service_errors import database_error, redis_error_for, until_available
from whisperops.migrations import pending


class Context:
    """Settings and the database, loaded on first use so ``--help`` needs neither."""

    current: Context | None = None
    """The running command's context: main() explains its errors with the settings."""

    def __init__(self, config_file: str | None, debug: bool = False) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None
        self.debug = debug
        Context.current = self

    @property
    def loaded_settings(self) -> Settings | None:
        return self._settings

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(config_file=self.config_file)
            logging.basicConfig(
                level=self._settings.log_level,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                stream=sys.stderr,
            )
        return self._settings

    def override(self, name: str, raw: str) -> Settings:
        """The settings with one value from the command line, parsed as its variable is."""
        try:
            return self.settings.replace(**{name: raw})
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from None

    def database(
        self, require_current: bool = True, wait_sec: float = 0, long_running: bool = False
    ):
        """Bind the database; unless told otherwise, insist its schema is current.

        Long-running processes pass ``wait_sec`` so that, started together with
        `whisperops migrate` (as by honcho), they wait for it instead of failing; they
        (and the console, ``long_running``) also wait service_wait_sec for a database
        that does not answer yet. One-shot commands fail at once, in one line.
        """
        import time

        url = self.settings.database_url.get_secret_value()
        database = bind_database(url)
        # A long-running process waits service_wait_sec for the database to answer
        # (in all: the database answering between migration checks does not restart it).
        service_wait = self.settings.service_wait_sec if long_running or wait_sec else 0
        service_deadline = time.monotonic() + service_wait
        deadline = time.monotonic() + wait_sec
        while require_current:
            missing = until_available(
                lambda: pending(database),
                lambda exc: database_error(exc, url),
                max(0.0, service_deadline - time.monotonic()),
                "the database",
            )
            if not missing:
                break
            if time.monotonic() >= deadline:
                raise WhisperopsError(
                    f"the database needs {len(missing)} migration(s) "
                    f"(next: {missing[0].name}); run `whisperops migrate`"
                )
            time.sleep(0.5)
        return database

    def redis(self, wait: bool = False):
        """A Redis connection that answers; long-running processes wait for it."""
        from whisperops.redis_server import connect_redis

        settings = self.settings

        def ping():
            connection = connect_redis(settings)
            connection.ping()
            return connection

        return until_available(
            ping,
            lambda exc: redis_error_for(exc, settings),
            settings.service_wait_sec if wait else 0,
            "Redis",
        )


# How long a worker or scheduler waits for `whisperops migrate` started beside it.
STARTUP_MIGRATION_WAIT_SEC = 60


pass_context = click.make_pass_decorator(Context)
