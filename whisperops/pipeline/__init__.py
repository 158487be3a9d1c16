"""The six pipeline steps and the job that runs them for one recording attempt."""
