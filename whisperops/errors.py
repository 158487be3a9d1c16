"""Exceptions that reach the operator as one clear line."""


class WhisperopsError(Exception):
    """An error whose message is meant for the operator, shown without a traceback."""

    exit_code = 1


class ConfigError(WhisperopsError):
    """A setting is missing or invalid."""

    exit_code = 2


class NotFoundError(WhisperopsError):
    """No recording with the requested id."""


class InvalidTransitionError(WhisperopsError):
    """The requested operation does not apply to the recording's current state."""
