"""The follow-up worker: push and email steps from the durable job queue (store/queue.py, one lane
per channel), each sent at most once, cancelled when the shopper came back or bought.

For each due step, right before sending: is it still wanted (not cancelled), is the visitor still
there in Redis (not erased), have they come back since the plan was made (any hello on any
instance moves the visitor's `last_seen`), is any of their sessions connected, did the plan's
session buy? Any yes cancels the step and the rest of the plan. Quiet hours in the shopper's time
zone move the step to their end. Then the step claims its one send (Queue.claim), sends, queues
the next step timed from this send, and finishes. A failed send is released and retried with
backoff; a step that keeps failing is given up with its reason in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlencode, urljoin

from ..config import Config
from ..core.alerts import next_attempt
from ..core.followups import FollowUps, next_job, push_payload, quiet_until
from ..health import Health
from ..signing import Signer
from ..store import Store, StoreError
from ..vapid import VapidKey
from .loop import run_polling
from .mailer import Ambiguous, Mailer, Permanent, Temporary, conversation_deadline
from .pusher import Pusher

log = logging.getLogger("linger.followups")


def lease_for(cfg: Config) -> float:
    """How long a leased step is this worker's: well past the longest send's own deadline, so another
    instance never takes over a step whose send may still be running."""
    return max(120.0, conversation_deadline(cfg.email.timeout_s) + 60, 2 * cfg.push.timeout_s + 60)


def link(cfg: Config, signer: Signer, job: dict[str, Any]) -> str:
    """The tracked link a step leads to: /f/c/TOKEN counts the click and redirects to the cart."""
    token = signer.dumps("click", {"s": job["site"], "v": job["vid"], "c": job["channel"], "n": job["step"],
                                   "p": job["plan"]})
    return f"{cfg.public_url}/f/c/{token}"


def presentable(cfg: Config, site: str, cart: dict[str, Any]) -> dict[str, Any]:
    """The cart as a message shows it: item names on one line of at most 80 characters (a shopper's
    text cannot start lines of its own in someone's mailbox), images as URLs a mail client or a
    notification can load (paths on the shop, checked against its origins when they came in)."""
    base = cfg.sites[site].origins[0] + "/"
    items = []
    for it in (cart.get("items") or [])[:50]:
        it = {**it, "name": " ".join(str(it.get("name") or "").split())[:80]}
        if it.get("image"):
            it["image"] = urljoin(base, it["image"])
        items.append(it)
    return {**cart, "items": items}


def cart_link(cfg: Config, site: str, channel: str, step: int) -> str:
    base = cfg.cart_url(site)
    utm = urlencode({"utm_source": "linger", "utm_medium": channel, "utm_campaign": f"cart_followup_{step}"})
    return f"{base}{'&' if '?' in base else '?'}{utm}"


class FollowUpWorker:
    def __init__(self, cfg: Config, store: Store, key: VapidKey, signer: Signer, health: Health | None = None,
                 clock: Any = time.time) -> None:
        self.cfg, self.store, self.signer, self.clock = cfg, store, signer, clock
        self.health = health or store.health
        self.q = store.queue("followups")
        self.lease = lease_for(cfg)
        self.mailer = Mailer(cfg)
        self.pusher = Pusher(key, cfg.vapid_sub(), cfg.push.allowed_hosts, cfg.push.timeout_s)
        if not cfg.vapid_sub().startswith(("mailto:", "https:")):
            log.warning("push.vapid_sub is not set and neither is email.from, so pushes name %s as their contact; "
                        "push services such as Apple's refuse that: set push.vapid_sub", cfg.vapid_sub())
        self.running: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="linger-followups")

    async def stop(self) -> None:
        tasks = [t for t in [self.task, *self.running] if t is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await self.pusher.close()

    async def _run(self) -> None:
        await run_polling(self.fill, self.cfg.followups.poll_ms / 1000, self.health, "follow-up queue", self._freed)

    async def fill(self) -> int:
        free = self.cfg.followups.parallel - len(self.running)
        started, now = 0, self.clock()
        for lane in await self.q.due_lanes(now) if free > 0 else []:
            for job in await self.q.lease(lane, free - started, now, now + self.lease):
                task = asyncio.get_running_loop().create_task(self._in_slot(job))
                self.running.add(task)
                started += 1
            if started >= free:
                break
        return started

    async def _in_slot(self, job: dict[str, Any]) -> None:
        try:
            await self.handle(job)
        except (StoreError, OSError) as e:  # the outcome could not be stored: the lease brings it back
            self.health.fail("follow-up queue", e)
        except Exception:  # a bug: logged, and the job is given up rather than retried forever
            log.exception("follow-up %s failed", job.get("id"))
            await self.q.release(job["id"])
            await self.finish(job, "failed", "internal error (see the server log)", self.clock())
        finally:
            task = asyncio.current_task()
            if task is not None:
                self.running.discard(task)  # type: ignore[arg-type]
            self._freed.set()

    # ------------------------------------------------------------ one step

    async def obstacle(self, job: dict[str, Any]) -> str | None:
        """Why this step must not go out now, for good (cancelling the plan), or None."""
        visitor = await self.store.sessions.load_visitor(job["vid"])
        if visitor is None:
            return "the visitor is gone (erased or expired)"
        if float(visitor.get("last_seen", 0)) > job["created"]:
            return "the shopper came back"
        sids = sorted({job["sid"], visitor.get("last_sid") or job["sid"]})
        for sess in await self.store.sessions.load_many(sids):  # one round trip for both
            if sess.get("sockets"):
                return "the shopper is on the site"
            if sess.get("sid") == job["sid"] and sess.get("converted"):
                return "the shopper bought"
        return None

    async def finish(self, job: dict[str, Any], status: str, why: str, now: float) -> None:
        entry = {"id": job["id"], "channel": job["channel"], "step": job["step"], "status": status,
                 "why": why, "at": now, "attempts": job.get("attempts", 0)}
        if await self.q.finish(job, entry):
            await self.store.followups.count(job["site"], job["channel"], job["step"], status)

    async def cancel_plan(self, job: dict[str, Any], why: str, now: float) -> None:
        await self.finish(job, "cancelled", why, now)
        others = [j["id"] for j in await self.q.visitor_jobs(job["vid"]) if j.get("plan") == job["plan"]]
        await self.store.followups.cancel(self.q, others, why, now)

    async def handle(self, job: dict[str, Any]) -> None:
        now = self.clock()
        site = self.cfg.sites.get(job["site"])
        if site is None:
            await self.finish(job, "skipped", "the site is no longer configured", now)
            return
        why = await self.obstacle(job)
        if why is not None:
            await self.cancel_plan(job, why, now)
            return
        conf: FollowUps = site.followups
        quiet = quiet_until(now, job.get("tz", ""), conf.quiet_hours)
        if quiet is not None:
            await self.q.retry(job, quiet, {"at": now, "result": "quiet hours in the shopper's time zone"})
            return
        if job["channel"] == "push":
            await self.push(job, conf, now)
        else:
            await self.email(job, conf, now)

    async def sent(self, job: dict[str, Any], conf: FollowUps, result: str, now: float, confirmed: bool = True) -> None:
        """Finish the step and queue the next one (timed from this send) in one step: a crash before
        leaves a step that finishes as sent on its next lease; an erasure or a cancellation that came
        first leaves nothing behind. `confirmed`: the push service or mail relay accepted it."""
        nxt = next_job(job, conf, now)
        entry = {"id": job["id"], "channel": job["channel"], "step": job["step"], "status": "sent", "why": result,
                 "at": now, "attempts": job.get("attempts", 0)}
        if not await self.q.finish(job, entry, then=nxt):
            return
        await self.store.followups.count(job["site"], job["channel"], job["step"], "sent")
        if confirmed:
            await self.store.followups.count(job["site"], job["channel"], job["step"], "delivered")
        if nxt is not None:
            await self.store.followups.scheduled(job["site"], nxt["channel"], nxt["step"], nxt["id"])

    async def failed(self, job: dict[str, Any], result: str, now: float, retry_after: float | None = None) -> None:
        await self.q.release(job["id"])
        job["attempts"] = job.get("attempts", 0) + 1
        if job["attempts"] >= self.cfg.followups.max_attempts:
            log.warning("follow-up %s (%s step %d) given up after %d tries: %s", job["id"], job["channel"],
                        job["step"], job["attempts"], result)
            await self.finish(job, "failed", result, now)
            return
        f = self.cfg.followups
        wait = retry_after if retry_after is not None else next_attempt(job["attempts"], f.retry_base_s, f.retry_max_s)
        await self.q.retry(job, now + wait, {"at": now, "result": result})

    async def claim(self, job: dict[str, Any], conf: FollowUps, now: float) -> bool:
        """Right before sending: still wanted (not cancelled while the checks ran), and this attempt's
        to make. A step already claimed by an attempt that never finished counts as sent, unconfirmed."""
        if not await self.q.still_wanted(job["id"]):
            return False
        if not await self.q.claim(job["id"]):
            await self.sent(job, conf, "sent by an earlier attempt (unconfirmed)", now, confirmed=False)
            return False
        return True

    async def push(self, job: dict[str, Any], conf: FollowUps, now: float) -> None:
        sub = await self.store.followups.subscription(job["vid"])
        if sub is None:
            await self.finish(job, "skipped", "no push subscription", now)
            return
        if not await self.claim(job, conf, now):
            return
        cart, shop = presentable(self.cfg, job["site"], job["cart"]), self.cfg.sites[job["site"]].name
        items = cart.get("items") or []
        body = f"{cart.get('count', 0)} item(s), {cart.get('total', 0):.2f} {cart.get('currency', '')}"
        if items:
            body = f"{items[0].get('name', '')}: {body}"
        icon = self.cfg.sites[job["site"]].origins[0] + "/favicon.ico"
        payload = push_payload(f"Your cart at {shop} is waiting", body, link(self.cfg, self.signer, job), icon=icon,
                               image=(items[0].get("image") or "") if items else "",
                               actions=(("open", "View cart"),), tag=job["plan"])
        out = await self.pusher.send(sub, payload, conf.push_ttl_s, conf.urgency, job["plan"])
        if out.ambiguous:  # sent, no answer: perhaps delivered, so never again
            await self.sent(job, conf, f"{out.detail} (unconfirmed)", now, confirmed=False)
        elif 200 <= out.status < 300:
            await self.store.followups.push_worked(job["vid"], sub["endpoint"])
            await self.sent(job, conf, out.detail, now)
        elif out.status in (404, 410):
            await self.store.followups.drop_subscription(job["vid"], sub["endpoint"])
            await self.finish(job, "skipped", f"subscription gone ({out.status})", now)
        elif out.status == 429 or out.status >= 500 or out.status == 0:
            if out.status == 0 and "allowed_hosts" in out.detail:
                await self.store.followups.drop_subscription(job["vid"], sub["endpoint"])
                await self.finish(job, "skipped", out.detail, now)
                return
            await self.failed(job, out.detail, now, out.retry_after)
        else:
            if out.status == 413:
                log.error("push payload too large for %s (a bug: payloads are cut to 3993 bytes)", job["id"])
            dropped = await self.store.followups.push_failed(job["vid"], sub["endpoint"], self.cfg.push.max_failures)
            await self.q.release(job["id"])
            await self.finish(job, "failed", out.detail + (" (subscription dropped)" if dropped else ""), now)

    async def email(self, job: dict[str, Any], conf: FollowUps, now: float) -> None:
        visitor = await self.store.sessions.load_visitor(job["vid"]) or {}
        address = visitor.get("email") or ""
        if not address or visitor.get("consent") != "1":
            await self.finish(job, "skipped", "no address with consent", now)
            return
        why = await self.store.followups.may_email(job["site"], address)
        if why is not None:
            await self.finish(job, "skipped", f"the address is {why}", now)
            return
        if not self.cfg.email.from_:
            await self.finish(job, "skipped", "email.from is not set", now)
            return
        if not await self.claim(job, conf, now):
            return
        unsub = self.signer.dumps("unsub", {"s": job["site"], "e": address, "n": f"email{job['step']}"})
        ctx = {"step": job["step"], "cart": presentable(self.cfg, job["site"], job["cart"]),
               "shop": self.cfg.sites[job["site"]].name,
               "code": conf.code if job["step"] == len(conf.email_after_s) else "",
               "cart_url": link(self.cfg, self.signer, job), "unsubscribe_url": f"{self.cfg.public_url}/f/u/{unsub}",
               "postal_address": self.cfg.email.postal_address}
        try:
            answer = await self.mailer.send(self.mailer.compose(address, ctx))
        except Permanent as e:
            await self.store.followups.undeliverable(job["site"], address)
            await self.finish(job, "failed", f"undeliverable: {e}", now)
            return
        except Temporary as e:
            await self.failed(job, str(e), now)
            return
        except Ambiguous as e:  # perhaps delivered: never sent again
            await self.sent(job, conf, f"{e} (unconfirmed)", now, confirmed=False)
            return
        await self.sent(job, conf, answer, now)
