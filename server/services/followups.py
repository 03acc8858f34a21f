"""Follow-ups as the API, the links in emails and notifications, and the CLI see them: clicks,
unsubscribes, per-step stats, what is pending."""

from __future__ import annotations

from typing import Any

from ..live import Live
from ..store import Store
from ..workers.followups import cart_link


async def click(live: Live, data: dict[str, Any], now: float) -> str:
    """A shopper followed a step's link: count it (once per step of a plan), remember it on the visitor
    for attributing a purchase to the step, and say where to send them."""
    site, channel, step = data["s"], data["c"], int(data["n"])
    if await live.store.followups.first_click(site, data["p"], channel, step):
        await live.store.followups.count(site, channel, step, "clicked")
    await live.store.followups.remember_click(data["v"], f"{channel}{step}", now)
    return cart_link(live.cfg, site, channel, step)


async def unsubscribe(live: Live, site: str, email: str, step: str, now: float) -> int:
    """Stop follow-up emails to this address at once (the one-click link)."""
    return await stop_emails(live.store, site, email, step, now)


async def stop_emails(store: Store, site: str, email: str, step: str, now: float) -> int:
    """Remembered for good, and every pending email step of the address's visitors cancelled. Returns
    how many steps were cancelled."""
    if await store.followups.unsubscribe_email(site, email) and step:
        await store.followups.count(site, step.rstrip("0123456789"), int(step[-1]), "unsubscribed")
    q = store.queue("followups")
    cancelled = 0
    for vid in await store.leads.visitors(site, email):
        ids = [j["id"] for j in await q.visitor_jobs(vid) if j.get("channel") == "email"]
        cancelled += await store.followups.cancel(q, ids, "unsubscribed", now)
    return cancelled


async def overview(live: Live, site: str) -> dict[str, Any]:
    q = live.store.queue("followups")
    pending = [{k: j.get(k) for k in ("id", "channel", "step", "at", "attempts", "created")}
               for j in await q.pending(site, ["push", "email"], limit=200)]
    return {"steps": await live.store.followups.stats(site), "pending": pending,
            "log": await q.log(site, limit=100)}
