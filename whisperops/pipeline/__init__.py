"""The six pipeline steps and the job that runs them for one recording attempt."""

from whisperops.models import STEPS

__all__ = ["STEPS"]
