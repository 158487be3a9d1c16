"""Prometheus metrics, computed on scrape from the database and RQ, and the exporter
that serves them."""
