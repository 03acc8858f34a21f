"""Outbound webhooks, on the durable job queue (store/queue.py; a lane per endpoint): signed JSON
bodies, retries with exponential backoff, a delivery log. At-least-once: a delivery is leased
while in flight, so one interrupted by a crash or restart is tried again; receivers deduplicate
on the `Linger-Delivery` id, which is derived from what caused the delivery and stays the same
across retries (the body carries it too, as "id").

Each attempt has one deadline (`webhooks.timeout_s`) for connecting, sending and reading at most
64 KiB of the answer, and the lease is always longer, so no other instance can start the same
delivery while an attempt may still be running. Deliveries run side by side (`webhooks.parallel`),
at most `webhooks.per_endpoint` to one endpoint, and endpoints whose last attempt took more than
half its deadline share half the slots between them, so slow endpoints cannot hold up the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from ..config import Config
from ..core.alerts import endpoint_of, next_attempt, sign
from ..health import Health
from ..redact import redact_endpoint, redact_text
from ..store import Store, StoreError
from .loop import run_polling

log = logging.getLogger("linger.webhooks")
MAX_ANSWER = 64 * 1024  # bytes of an endpoint's answer read at most


def lease_for(timeout_s: float) -> float:
    """How long a delivery stays leased: well past the attempt's own deadline."""
    return max(60.0, 2 * timeout_s + 30)


class Deliverer:
    def __init__(self, cfg: Config, store: Store, health: Health | None = None, clock: Any = time.time) -> None:
        self.cfg, self.store, self.clock = cfg, store, clock
        self.health = health or store.health
        self.timeout = cfg.webhooks.timeout_s
        self.lease = lease_for(self.timeout)
        self.parallel, self.per_endpoint = cfg.webhooks.parallel, cfg.webhooks.per_endpoint
        self.client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False,
                                        headers={"user-agent": "Linger-Webhooks/1"},
                                        limits=httpx.Limits(max_connections=self.parallel * 2))
        self.busy: dict[str, int] = {}  # endpoint -> attempts in flight
        self.slow: set[str] = set()  # endpoints whose last attempt took more than half its deadline
        self.slow_share = max(1, self.parallel // 2)  # slots slow endpoints may hold between them
        self.running: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="linger-webhooks")

    async def migrate(self) -> None:
        moved = await self.store.webhooks.migrate_legacy()
        if moved:
            log.info("moved %d pending webhook deliveries to per-endpoint queues", moved)

    async def stop(self) -> None:
        """Stop taking work and abandon attempts in flight (their leases bring them back)."""
        tasks = [t for t in [self.task, *self.running] if t is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=5)
            if stuck:
                log.error("webhook worker: %d task(s) did not stop within 5 s; shutting down anyway", len(stuck))
        await self.client.aclose()

    async def _run(self) -> None:
        await run_polling(self.fill, self.cfg.webhooks.poll_ms / 1000, self.health, "webhook queue", self._freed)

    async def fill(self) -> int:
        """Start attempts in the free slots: endpoints with something due, most overdue first, each
        up to webhooks.per_endpoint at a time. Every endpoint has its own queue, so however long
        one endpoint's backlog is, another's deliveries are not behind it."""
        free = self.parallel - len(self.running)
        started = 0
        if free <= 0:
            return 0
        now = self.clock()
        slow_busy = sum(n for ep, n in self.busy.items() if ep in self.slow)
        for ep in await self.store.webhooks.due_lanes(now):
            room = min(free - started, self.per_endpoint - self.busy.get(ep, 0))
            if ep in self.slow:  # however many endpoints hang, the others always keep half the slots
                room = min(room, self.slow_share - slow_busy)
            if room <= 0:
                continue
            for d in await self.store.webhooks.lease(ep, room, now, now + self.lease):
                self.busy[ep] = self.busy.get(ep, 0) + 1
                slow_busy += ep in self.slow
                self.running.add(asyncio.get_running_loop().create_task(self._attempt_in_slot(d, ep)))
                started += 1
            if started >= free:
                break
        return started

    async def _attempt_in_slot(self, d: dict[str, Any], ep: str) -> None:
        try:
            await self.attempt(d)
        except (StoreError, OSError) as e:  # the outcome could not be stored: the lease brings it back
            self.health.fail("webhook queue", e)
        finally:
            self.busy[ep] -= 1
            if not self.busy[ep]:
                del self.busy[ep]
            task = asyncio.current_task()
            if task is not None:
                self.running.discard(task)  # type: ignore[arg-type]
            self._freed.set()

    def _secret(self, d: dict[str, Any]) -> str | None:
        site = self.cfg.sites.get(d["site"])
        hook = next((h for h in (site.webhooks if site else ()) if h.url == d["url"]), None)
        return hook.secret if hook else None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
        """One attempt: True and the status for a 2xx answer, within the deadline, reading at most
        MAX_ANSWER bytes of it."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self.client.stream("POST", url, content=body, headers=headers) as r:
                    got = 0
                    async for chunk in r.aiter_raw():
                        got += len(chunk)
                        if got >= MAX_ANSWER:
                            break  # enough: leaving the block closes the connection
                return 200 <= r.status_code < 300, f"HTTP {r.status_code}"
        except TimeoutError:
            return False, f"no complete answer within {self.timeout:g} s"
        except httpx.HTTPError as e:
            shown = redact_text(str(e).replace(url, redact_endpoint(url)))
            return False, f"{type(e).__name__}: {shown}"[:300]

    async def attempt(self, d: dict[str, Any]) -> None:
        if not await self.store.webhooks.still_wanted(d["id"]):
            return  # erased (GDPR) or finished elsewhere since it was leased: nothing goes out
        secret = self._secret(d)
        now = self.clock()
        entry = {"id": d["id"], "event": d["event"], "url": redact_endpoint(d["url"]), "attempts": d["attempts"] + 1,
                 "at": now}
        if secret is None:  # the webhook was removed from the config since
            await self.store.webhooks.finish(d, {**entry, "status": "dropped", "error": "webhook no longer configured"})
            return
        body = d["body"].encode()
        headers = {"content-type": "application/json", "linger-event": d["event"], "linger-delivery": d["id"],
                   "linger-signature": sign(secret, int(now), body)}
        started = time.monotonic()
        ok, result = await self.post(d["url"], body, headers)
        ep = endpoint_of(d["id"])
        if time.monotonic() - started > self.timeout / 2:
            self.slow.add(ep)
        else:
            self.slow.discard(ep)
        d["attempts"] += 1
        d["last"] = {"at": now, "result": result}
        if ok:
            await self.store.webhooks.finish(d, {**entry, "status": "delivered", "result": result})
        elif d["attempts"] >= self.cfg.webhooks.max_attempts:
            log.warning("webhook %s to %s given up after %d tries: %s", d["id"], redact_endpoint(d["url"]),
                        d["attempts"], result)
            await self.store.webhooks.finish(d, {**entry, "status": "failed", "result": result})
        else:
            wait = next_attempt(d["attempts"], self.cfg.webhooks.retry_base_s, self.cfg.webhooks.retry_max_s)
            await self.store.webhooks.retry(d, now + wait, {"at": now, "result": result})
