"""create_app(config) -> Starlette. The lifespan opens Redis (embedded or configured), starts the
timer loop, and on shutdown flushes pending writes before stopping the embedded server."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from . import api, campaigns, demo, leads, webhooks
from .config import Config
from .embedded import EmbeddedRedis
from .live import Live
from .metrics import Metrics
from .store import Store
from .webhooks import Deliverer
from .ws import widget_socket

log = logging.getLogger("linger")
ROOT = Path(__file__).resolve().parent.parent


class WidgetSocketFastPath:
    """Send widget sockets straight to their handler, past the router and exception layers.

    Each layer keeps a coroutine, closures and wrappers alive for the whole life of a socket;
    skipping them halves the objects a held connection costs (and so the GC's work) at 15k sockets.
    The route below stays for url_for and documentation; this middleware answers first.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            await widget_socket(WebSocket(scope, receive, send))
        else:
            await self.app(scope, receive, send)


def create_app(cfg: Config) -> Starlette:
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        embedded = None
        url = cfg["redis.url"]
        if not url:
            embedded = EmbeddedRedis(cfg.data_dir)
            url = embedded.start()
        store = Store(url, cfg["redis.prefix"], cfg["redis.durable_acks"], cfg["redis.pool_size"])
        try:
            await store.open()
            live = Live(cfg, store, metrics)
            await live.start()
            deliverer = Deliverer(cfg, store)
            deliverer.start()
            metrics.watch_sessions(live.counts_by_state)
            metrics.watch_gc()
            app.state.live = live
            gc.collect()
            gc.freeze()  # what start-up made lives forever: keep it out of every later collection
            log.info("linger ready: redis %s, sites %s", "embedded" if embedded else url,
                     ", ".join(cfg.sites))
            yield
            metrics.unwatch_gc()
            await deliverer.stop()
            await live.stop()
        finally:
            await store.close()
            if embedded:
                embedded.stop()

    routes = [
        WebSocketRoute("/ws", widget_socket),
        Route("/api/v1/sessions", api.list_sessions),
        Route("/api/v1/sessions/{sid}", api.get_session),
        Route("/api/v1/leads", leads.list_leads),
        Route("/api/v1/leads.csv", leads.leads_csv),
        Route("/api/v1/leads/{email}", leads.erase, methods=["DELETE"]),
        Route("/api/v1/alerts", webhooks.alerts),
        Route("/api/v1/webhooks/deliveries", webhooks.deliveries),
        Route("/api/v1/campaigns", campaigns.list_or_create, methods=["GET", "POST"]),
        Route("/api/v1/campaigns/{cid}", campaigns.one, methods=["GET", "PUT", "DELETE"]),
        Route("/api/v1/campaigns/{cid}/stats", campaigns.stats),
        Route("/healthz", api.healthz),
        Route("/metrics", api.metrics),
        Route("/widget.js", demo.widget_js),
    ]
    if cfg["server.demo"]:
        routes += demo.routes()
    routes.append(Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(WidgetSocketFastPath)])
    app.state.cfg = cfg
    app.state.metrics = metrics
    return app
