"""Diarization: who spoke when (by channel or by pyannote), and which speaker each
transcript segment belongs to."""
