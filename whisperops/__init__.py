"""whisperops: a self-hosted transcription pipeline you can see into."""

__version__ = "0.1.0"
