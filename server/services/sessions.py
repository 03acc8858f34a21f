"""Live sessions as the API, the ops console and health checks see them."""

from __future__ import annotations

from typing import Any

from ..core.session import Session
from ..live import Live


async def live_views(live: Live, site: str, limit: int) -> list[dict[str, Any]]:
    """Sessions of a site not yet ended, most recently active first: this instance's live copies,
    the stored ones for the rest."""
    sids = await live.store.sessions.live_sids(site, limit)
    out = [live.sessions[sid].view() for sid in sids if sid in live.sessions]
    rest = [s for s in sids if s not in live.sessions]
    out += [Session.from_dict(d).view() for d in await live.store.sessions.load_many(rest)]
    out.sort(key=lambda v: v["last_act"], reverse=True)
    return out


async def view(live: Live, site: str, sid: str) -> dict[str, Any] | None:
    """One session of this site, or None (also for another site's)."""
    sess = live.sessions.get(sid)
    if sess is None and len(sid) <= 64:
        raw = await live.store.sessions.load(sid)
        sess = Session.from_dict(raw) if raw else None
    return sess.view() if sess is not None and sess.site == site else None


async def health(live: Live) -> dict[str, Any]:
    store = live.store
    reachable = await store.ping()
    writing = reachable and not store.writer.failing and await store.probe_write()  # full or read-only is down
    ok = writing and not store.writer.not_fsyncing
    state = "up" if ok else ("down" if not reachable else "refusing writes" if not writing else "not fsyncing")
    return {"ok": ok, "redis": state, "instance": live.instance,
            "connections": sum(len(s) for s in live.sockets.values()), "problems": live.health.problems()}
