"""The six pipeline steps and the job that runs them for one recording attempt."""

STEPS = (
    "parse_metadata",
    "extract_metadata",
    "transcribe",
    "diarization",
    "analytics",
    "store_results",
)
