"""create_app(config) -> Starlette. The lifespan opens Redis (embedded and supervised, or
configured), starts the timer loop, the webhook worker and the retention sweep, and on shutdown
flushes pending writes before stopping the embedded server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from . import demo, redact
from .config import Config
from .core.campaigns import CampaignError, parse_campaigns_toml
from .embedded import EmbeddedRedis
from .health import Health
from .http import admin, alerts, audit, campaigns, errors, followups, leads, sessions
from .http.admin.session import ConsoleHeaders
from .janitor import Janitor
from .live import Live
from .metrics import Metrics
from .services.accounts import seed_demo
from .signing import SecretError, Signer
from .store import Retention, Store, StoreError
from .vapid import VapidError, VapidKey
from .workers.followups import FollowUpWorker
from .workers.webhooks import Deliverer
from .ws import widget_socket

log = logging.getLogger("linger")
ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400


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


def seed_campaigns(cfg: Config) -> dict[str, list[dict[str, Any]]]:
    """The campaigns each site starts with (sites[].seed_campaigns), read and validated."""
    out = {}
    for site in cfg.sites.values():
        if site.seed_campaigns:
            path = cfg.resolve(site.seed_campaigns)
            try:
                text = Path(path).read_text(encoding="utf-8")
                out[site.key] = [c.to_dict() for c in parse_campaigns_toml(text)]
            except (OSError, CampaignError) as e:
                raise RuntimeError(f"sites[{site.key}].seed_campaigns {path}: {e}") from None
    return out


def retention(cfg: Config) -> Retention:
    return Retention(records=cfg.retention.records_days * DAY, visitors=cfg.retention.visitors_days * DAY,
                     leads_unconsented=cfg.retention.leads_unconsented_days * DAY,
                     leads=cfg.retention.leads_days * DAY)


async def keys_at_start(cfg: Config, store: Store) -> tuple[VapidKey, str]:
    """The VAPID key and the link secret, each checked against what Redis recorded (so that no start
    ever makes a new one by accident), recorded on the first start. Two instances starting for the
    first time at once agree on one: the first to record wins, the other stops."""
    from . import signing, vapid

    recorded = await store.followups.recorded_vapid()
    key, record = vapid.at_start(cfg.vapid_key_path, recorded)
    if record and recorded is None:
        if await store.followups.record_vapid(key.public) != key.public:
            raise VapidError(f"another instance recorded a different VAPID key first: give every instance the "
                             f"same {cfg.vapid_key_path.name} (push.vapid_key_file)")
    elif record:
        await store.followups.rotate_vapid(key.public)
    vapid.rotated(cfg.vapid_key_path)
    recorded_fp = await store.followups.recorded_secret()
    secret, first = signing.at_start(cfg.secret_path, recorded_fp)
    if first and await store.followups.record_secret(signing.fingerprint(secret)) != signing.fingerprint(secret):
        raise SecretError(f"another instance recorded a different link secret first: give every instance the same "
                          f"{cfg.secret_path.name} (server.secret_file)")
    return key, secret


def create_app(cfg: Config) -> Starlette:
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redact.install()  # uvicorn has configured its loggers by now
        health = Health()
        embedded = supervisor = None
        url = cfg.redis.url
        if not url:
            embedded = EmbeddedRedis(cfg.data_dir, maxmemory=cfg.redis.maxmemory)
            url = embedded.start()
            supervisor = asyncio.get_running_loop().create_task(embedded.supervise(health), name="linger-embedded")
        store = Store(url, cfg.redis.prefix, cfg.redis.durable_acks, cfg.redis.pool_size,
                      retention(cfg), health)
        catcher = None
        try:
            await store.open()
            try:
                key, secret = await keys_at_start(cfg, store)
            except (VapidError, SecretError) as e:
                log.error("linger: %s", e)
                raise
            signer = Signer(secret)
            app.state.signer = signer
            if cfg.email.catcher:
                from . import catcher as catcher_mod

                catcher = catcher_mod.start(cfg.email.smtp_host, cfg.email.smtp_port, cfg.data_dir / "mail")
            live = Live(cfg, store, metrics, health=health)
            live.vapid_public = key.public
            await live.start(seed_campaigns(cfg))
            if await seed_demo(store, cfg):
                log.info("demo accounts added for the demo site (password in the README; loopback only)")
            deliverer = Deliverer(cfg, store, health)
            await deliverer.migrate()
            deliverer.start()
            janitor = Janitor(cfg, store)
            janitor.start()
            worker = FollowUpWorker(cfg, store, key, signer, health)
            worker.start()
            metrics.watch_sessions(live.counts_by_state)
            metrics.watch_gc()
            app.state.live = live
            gc.collect()
            gc.freeze()  # what start-up made lives forever: keep it out of every later collection
            log.info("linger ready: redis %s, sites %s", "embedded" if embedded else store.safe_url,
                     ", ".join(cfg.sites))
            yield
            metrics.unwatch_gc()
            await janitor.stop()
            await worker.stop()
            await deliverer.stop()
            await live.stop()
        finally:
            if catcher is not None:
                catcher.stop()
            if supervisor is not None:
                supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor
            await store.close()
            if embedded:
                embedded.stop()

    routes = [
        WebSocketRoute("/ws", widget_socket),
        Route("/api/v1/sessions", sessions.list_sessions),
        Route("/api/v1/sessions/{sid}", sessions.get_session),
        Route("/api/v1/leads", leads.list_leads, methods=["GET"]),
        Route("/api/v1/leads", leads.erase, methods=["DELETE"]),
        Route("/api/v1/leads.csv", leads.leads_csv),
        Route("/api/v1/leads/{email:path}", leads.erase, methods=["DELETE"]),
        Route("/api/v1/alerts", alerts.alerts),
        Route("/api/v1/webhooks/deliveries", alerts.deliveries),
        Route("/api/v1/campaigns", campaigns.list_or_create, methods=["GET", "POST"]),
        Route("/api/v1/campaigns/{cid}", campaigns.one, methods=["GET", "PUT", "DELETE"]),
        Route("/api/v1/campaigns/{cid}/stats", campaigns.stats),
        Route("/api/v1/followups", followups.overview),
        Route("/api/v1/audit", audit.audit),
        Route("/f/c/{token}", followups.click),
        Route("/f/u/{token}", followups.unsubscribe, methods=["GET", "POST"]),
        Route("/sw.js", followups.service_worker),
        Route("/healthz", sessions.healthz),
        Route("/metrics", sessions.metrics),
        Route("/widget.js", demo.widget_js),
    ]
    routes += admin.routes()
    if cfg.server.demo:
        routes += demo.routes()
    routes.append(Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"))
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(WidgetSocketFastPath), Middleware(ConsoleHeaders)],
                    exception_handlers={HTTPException: errors.render_error, StoreError: errors.render_unavailable,
                                        Exception: errors.render_crash})
    app.state.cfg = cfg
    app.state.metrics = metrics
    return app
