"""RQ jobs: the names shared across processes, and putting recordings on the queue."""
