"""Prometheus metrics (prometheus-client), one registry per app so several apps can live in one process."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .core.vocab import STATES


class _SessionsByState(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily("linger_sessions", "Sessions with a socket on this instance, by state",
                              labels=["state"])
        counts = self.counts()
        for st in STATES:
            g.add_metric([st], counts.get(st, 0))
        yield g


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("linger_connections", "Open widget sockets", registry=r)
        self.frames_in = Counter("linger_frames_in", "Frames received from widgets", ["t"], registry=r)
        self.frames_out = Counter("linger_frames_out", "Frames sent to widgets", ["t"], registry=r)
        self.errors = Counter("linger_errors", "Errors by code", ["code"], registry=r)
        self.rejected = Counter("linger_handshakes_rejected", "Refused handshakes", ["reason"], registry=r)
        self.sessions_started = Counter("linger_sessions_started", "New sessions", registry=r)
        self.duplicates = Counter("linger_duplicate_ids", "Client messages whose id was already applied",
                                  registry=r)
        self.decisions = Counter("linger_decisions", "Messages the rules sent (popup, arm, disarm)", ["t"],
                                 registry=r)
        self.emails_refused = Counter("linger_emails_refused", "Emails not captured, by reason", ["reason"],
                                      registry=r)
        self.events = Counter("linger_session_events", "Notable session events", ["event"], registry=r)
        self._children: dict[tuple[int, str], Any] = {}
        self.gc_pause = Histogram("linger_gc_pause_seconds", "Python garbage-collector pauses", ["generation"],
                                  buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5), registry=r)
        self._gc_started = 0.0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pause.labels(str(info["generation"])).observe(time.perf_counter() - self._gc_started)

    def watch_gc(self) -> None:
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def unwatch_gc(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def count(self, counter: Counter, label: str) -> None:
        """counter.labels(label).inc(), with the child looked up once (this is on the per-frame path)."""
        key = (id(counter), label)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(label)
        child.inc()

    def watch_sessions(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_SessionsByState(counts))

    def render(self) -> bytes:
        return generate_latest(self.registry)
