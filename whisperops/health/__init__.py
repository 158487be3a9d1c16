"""Is this host fit to work: environment failures explained in one line, settings
checked before work starts, and `whisperops doctor`."""
