"""Outbound webhooks: a durable Redis-backed queue, signed JSON bodies, retries with exponential
backoff, a delivery log. At-least-once: a delivery is leased while in flight, so one interrupted
by a crash or restart is tried again; receivers deduplicate on the `Linger-Delivery` id, which
stays the same across retries (the body carries it too, as "id")."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from .api import guard, json, site_param
from .config import Config
from .core.alerts import next_attempt, sign
from .store import Store, StoreError

log = logging.getLogger("linger.webhooks")
LEASE_S = 60.0
PARALLEL = 10


class Deliverer:
    def __init__(self, cfg: Config, store: Store, clock: Any = time.time) -> None:
        self.cfg, self.store, self.clock = cfg, store, clock
        self.client = httpx.AsyncClient(timeout=cfg["webhooks.timeout_s"], follow_redirects=False,
                                        headers={"user-agent": "Linger-Webhooks/1"})
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="linger-webhooks")

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        await self.client.aclose()

    async def _run(self) -> None:
        poll = self.cfg["webhooks.poll_ms"] / 1000
        while True:
            try:
                due = await self.store.lease_deliveries(self.clock(), LEASE_S, PARALLEL)
                if due:
                    await asyncio.gather(*(self.attempt(d) for d in due))
                    continue
            except (StoreError, OSError) as e:
                log.error("webhook queue: %s", e)
            await asyncio.sleep(poll)

    def _secret(self, d: dict[str, Any]) -> str | None:
        site = self.cfg.sites.get(d["site"])
        hook = next((h for h in (site.webhooks if site else ()) if h.url == d["url"]), None)
        return hook.secret if hook else None

    async def attempt(self, d: dict[str, Any]) -> None:
        secret = self._secret(d)
        now = self.clock()
        entry = {"id": d["id"], "event": d["event"], "url": d["url"], "attempts": d["attempts"] + 1, "at": now}
        if secret is None:  # the webhook was removed from the config since
            await self.store.delivery_done(d, {**entry, "status": "dropped", "error": "webhook no longer configured"})
            return
        body = d["body"].encode()
        headers = {"content-type": "application/json", "linger-event": d["event"], "linger-delivery": d["id"],
                   "linger-signature": sign(secret, int(now), body)}
        try:
            r = await self.client.post(d["url"], content=body, headers=headers)
            ok, result = 200 <= r.status_code < 300, f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            ok, result = False, f"{type(e).__name__}: {e}"[:300]
        d["attempts"] += 1
        d["last"] = {"at": now, "result": result}
        if ok:
            await self.store.delivery_done(d, {**entry, "status": "delivered", "result": result})
        elif d["attempts"] >= self.cfg["webhooks.max_attempts"]:
            log.warning("webhook %s to %s given up after %d tries: %s", d["id"], d["url"], d["attempts"], result)
            await self.store.delivery_done(d, {**entry, "status": "failed", "result": result})
        else:
            wait = next_attempt(d["attempts"], self.cfg["webhooks.retry_base_s"], self.cfg["webhooks.retry_max_s"])
            await self.store.delivery_retry(d, now + wait)


@guard
async def deliveries(request: Request) -> Response:
    site = site_param(request)
    if isinstance(site, Response):
        return site
    store: Store = request.app.state.live.store
    pending = [{k: d[k] for k in ("id", "event", "url", "attempts", "created", "last")}
               for d in await store.pending_deliveries(site)]
    return json({"site": site, "pending": pending, "log": await store.delivery_log(site)})


@guard
async def alerts(request: Request) -> Response:
    site = site_param(request)
    if isinstance(site, Response):
        return site
    store: Store = request.app.state.live.store
    return json({"site": site, "alerts": list(reversed(await store.records("alert", site, 200)))})
