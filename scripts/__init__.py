"""Setup and demo scripts. A package only so that tests and benches can import the
demo's call generator (``scripts.stereo_calls``) from the repository root."""
