"""`whisperops exporter`: serves /metrics from the collector, on loopback by default."""

from __future__ import annotations

import logging
import threading

from prometheus_client import CollectorRegistry, start_http_server

from whisperops.config import Settings
from whisperops.monitoring.metrics import WhisperopsCollector
from whisperops.redis_server import observer_connector
from whisperops.runtime import init_runtime

log = logging.getLogger(__name__)


def build_registry(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WhisperopsCollector(observer_connector(settings)))
    return registry


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until the process is stopped."""
    init_runtime(settings)
    server, thread = start_http_server(port, addr=host, registry=build_registry(settings))
    log.info("Exporter serving http://%s:%d/metrics", host, port)
    try:
        threading.Event().wait()
    finally:
        server.shutdown()
        thread.join()
