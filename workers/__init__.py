"""Thin entry points for whisperops' long-running processes.

Each module only hands its options to the CLI command of the same process; the
logic lives in the whisperops package where tests reach it.
"""
