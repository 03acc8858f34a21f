"""Campaigns as the API, the CLI and the admin see them: listed, saved (every instance reloads),
deleted, their results, and TOML export/import."""

from __future__ import annotations

from typing import Any

import tomli_w

from ..core import wire
from ..core.campaigns import Campaign, parse_campaign
from ..core.stats import campaign_results
from ..live import Live
from ..store import Store
from .accounts import audit


def listed(live: Live, site: str) -> list[dict[str, Any]]:
    """The site's campaigns as this instance runs them, highest priority first."""
    camps = sorted(live.rules_for(site).campaigns, key=lambda c: (-c.priority, c.id))
    return [c.to_dict() for c in camps]


async def stored(live: Live, site: str, cid: str) -> dict[str, Any] | None:
    return await live.store.campaigns.load(site, cid)


async def save(live: Live, site: str, camp: Campaign, who: str) -> dict[str, Any]:
    """Store it (every instance reloads and re-decides for live shoppers) and audit the change."""
    before = await live.store.campaigns.load(site, camp.id)
    after = camp.to_dict()
    await live.store.campaigns.save(site, after)
    await live.campaigns_changed(site)  # this instance at once; the others through pub/sub
    if before != after:
        await audit(live.store, site, who, "campaign.added" if before is None else "campaign.saved", camp.id,
                    before, after)
    return after


async def set_status(live: Live, site: str, cid: str, status: str, who: str) -> dict[str, Any] | None:
    """Pause or resume (the campaign as stored, its status changed and validated again)."""
    raw = await live.store.campaigns.load(site, cid)
    if raw is None:
        return None
    return await save(live, site, parse_campaign({**raw, "status": status}), who)


async def delete(live: Live, site: str, cid: str, who: str) -> None:
    before = await live.store.campaigns.load(site, cid)
    await live.store.campaigns.delete(site, cid)
    await live.campaigns_changed(site)
    if before is not None:
        await audit(live.store, site, who, "campaign.deleted", cid, before, None)


async def last_days(live: Live, site: str, camp: dict[str, Any], days: int = 7) -> dict[str, float]:
    """Impressions, conversion rate and revenue over the last `days` UTC days, all variants."""
    counts = await live.store.campaigns.stats_since(site, camp["id"], days, live.clock())
    shown = sum(v for k, v in counts.items() if k.endswith(":shown"))
    conv = sum(v for k, v in counts.items() if k.endswith(":conversion"))
    revenue = sum(v for k, v in counts.items() if k.endswith(":revenue"))
    return {"impressions": shown, "conversion_rate": conv / shown if shown else 0.0, "revenue": round(revenue, 2)}


async def results(live: Live, site: str, camp: dict[str, Any]) -> dict[str, Any]:
    counts = await live.store.campaigns.stats(site, camp["id"])
    return campaign_results([v["id"] for v in camp["variants"]], counts)


def _drop_none(obj: object) -> object:
    """TOML has no null: leave unset fields out (they read back as their defaults)."""
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [_drop_none(v) for v in obj]
    return obj


async def export_toml(store: Store, site: str) -> tuple[str, int]:
    """The site's stored campaigns as a TOML document that import reads back, and how many."""
    camps = sorted((parse_campaign(c) for c in await store.campaigns.load_all(site)),
                   key=lambda c: (-c.priority, c.id))
    header = f"# Linger campaigns of site {site!r}: `python -m server campaigns import FILE` loads them.\n"
    return header + tomli_w.dumps({"campaigns": [_drop_none(c.to_dict()) for c in camps]}), len(camps)


async def import_all(store: Store, site: str, camps: list[Campaign]) -> int:
    """Store already validated campaigns (running instances reload through pub/sub); returns how
    many were new."""
    existing = {c["id"]: c for c in await store.campaigns.load_all(site)}
    for c in camps:
        await store.campaigns.save(site, c.to_dict())
        if existing.get(c.id) != c.to_dict():
            await audit(store, site, "command line (campaigns import)",
                        "campaign.added" if c.id not in existing else "campaign.saved", c.id, existing.get(c.id),
                        c.to_dict())
    return sum(1 for c in camps if c.id not in existing)


async def daily(live: Live, site: str, camp: dict[str, Any], days: int = 30) -> list[dict[str, Any]]:
    """Impressions, conversions and revenue per UTC day over the last `days` days, all variants."""
    out = []
    for day, counts in await live.store.campaigns.by_day(site, camp["id"], days, live.clock()):
        def total(name: str, c: dict[str, float] = counts) -> float:
            return sum(v for k, v in c.items() if k.endswith(f":{name}"))
        out.append({"day": f"{day[:4]}-{day[4:6]}-{day[6:]}", "impressions": int(total("shown")),
                    "conversions": int(total("conversion")), "revenue": round(total("revenue"), 2)})
    return out


PREVIEW_TTL_S = 600


async def start_preview(live: Live, site: str, camp: Campaign, variant: int) -> str:
    """A token that shows this draft (not saved) to the browser that opens the store with it."""
    import secrets

    token = secrets.token_urlsafe(24)
    await live.store.campaigns.save_preview(token, site, camp.to_dict(), variant, PREVIEW_TTL_S)
    return token


async def preview_popup(live: Live, site: str, token: str) -> wire.Popup | None:
    """The draft a preview token stands for, as a popup for this one browser. Nothing is counted: the
    widget's report of it is refused, as it is no campaign of the session."""
    draft = await live.store.campaigns.load_preview(token)
    if draft is None or draft.get("site") != site:
        return None
    camp = parse_campaign(draft["campaign"])
    variant = camp.variants[min(max(int(draft.get("variant", 0)), 0), len(camp.variants) - 1)]
    return wire.Popup(cid=f"preview-{camp.id}"[:64], var=variant.id, kind=camp.kind, layout=variant.layout,
                      content=variant.content, style=variant.style)
