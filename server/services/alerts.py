"""Alerts and webhook deliveries as the API, the admin and the ops console see them."""

from __future__ import annotations

from typing import Any

from ..core.alerts import endpoint_of_url
from ..live import Live
from ..redact import redact_endpoint


async def alerts(live: Live, site: str, limit: int = 200) -> list[dict[str, Any]]:
    return await live.store.records.newest("alert", site, limit)


async def deliveries(live: Live, site: str) -> dict[str, Any]:
    """What is pending for the site's endpoints and the delivery log; endpoints shown as origins."""
    endpoints = sorted({endpoint_of_url(h.url) for h in live.cfg.sites[site].webhooks})
    pending = [{**{k: d.get(k) for k in ("id", "event", "attempts", "created", "last")},
                "url": redact_endpoint(d["url"])} for d in await live.store.webhooks.pending(site, endpoints)]
    return {"pending": pending, "log": await live.store.webhooks.log(site)}


async def send_test(live: Live, site: str, url: str, who: str) -> str:
    """Queue a signed `test` delivery to one of the site's webhooks (the worker sends it like any other);
    returns its id."""
    import secrets

    from ..core.alerts import delivery_id, make_delivery

    now = live.clock()
    did = delivery_id(url, site, "", f"test.{secrets.token_hex(8)}", "test")
    live.store.webhooks.enqueue(make_delivery(did, site, url, "test", {"site": site, "sent_by": who, "at": now},
                                              now), now)
    await live.store.writer.commit()
    return did
