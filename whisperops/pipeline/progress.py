"""The progress estimate moved to :mod:`whisperops.progress`; kept for the job's import."""

from whisperops.progress import PaceTracker, ProgressEstimator

__all__ = ["PaceTracker", "ProgressEstimator"]
