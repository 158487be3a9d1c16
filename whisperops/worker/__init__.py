"""The transcribe and maintenance workers: RQ worker classes and their pool, and the
layout they run (chosen from a calibration measured once per host and model)."""
