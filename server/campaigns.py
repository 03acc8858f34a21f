"""Campaign API (/api/v1/campaigns, bearer tokens) and the `campaigns export|import` command."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import tomli_w
from starlette.requests import Request
from starlette.responses import Response

from .api import ApiError, guard, json, live_of, site_param
from .config import Config
from .core.campaigns import ID_RE, Campaign, CampaignError, parse_campaign, parse_campaigns_toml
from .core.stats import campaign_results
from .embedded import EmbeddedRedis
from .live import Live
from .store import Store, StoreError

MAX_BODY = 64 * 1024


async def _body(request: Request) -> object:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"a campaign is at most {MAX_BODY} bytes of JSON")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "the body must be a JSON object") from None


def _parse(body: object, cid: str | None = None) -> Campaign:
    try:
        return parse_campaign(body, cid=cid)
    except CampaignError as e:
        raise ApiError(422, "invalid", str(e), e.field) from None


def _cid(request: Request) -> str:
    cid = request.path_params["cid"]
    if not ID_RE.match(cid):
        raise ApiError(400, "bad_id", "a campaign id is 1-64 characters of A-Z a-z 0-9 _ -", "id")
    return str(cid)


@guard
async def list_or_create(request: Request) -> Response:
    site = site_param(request)
    live = live_of(request)
    if request.method == "GET":
        camps = sorted(live.rules_for(site).campaigns, key=lambda c: (-c.priority, c.id))
        return json({"site": site, "count": len(camps), "campaigns": [c.to_dict() for c in camps]})
    camp = _parse(await _body(request))
    if await live.store.campaigns.load(site, camp.id) is not None:
        raise ApiError(409, "exists", f"campaign {camp.id!r} exists; PUT /api/v1/campaigns/{camp.id} to change it",
                       "id")
    return await _save(live, site, camp, 201)


async def _save(live: Live, site: str, camp: Campaign, status: int) -> Response:
    await live.store.campaigns.save(site, camp.to_dict())
    await live.campaigns_changed(site)  # this instance at once; the others through pub/sub
    return json(camp.to_dict(), status)


@guard
async def one(request: Request) -> Response:
    site = site_param(request)
    cid = _cid(request)
    live = live_of(request)
    current = await live.store.campaigns.load(site, cid)
    if request.method == "PUT":
        body = await _body(request)
        if isinstance(body, dict) and body.get("id", cid) != cid:
            raise ApiError(422, "invalid", "id: does not match the URL", "id")
        return await _save(live, site, _parse(body, cid=cid), 200 if current else 201)
    if current is None:
        raise ApiError(404, "not_found", f"no campaign {cid!r} on site {site!r}")
    if request.method == "DELETE":
        await live.store.campaigns.delete(site, cid)
        await live.campaigns_changed(site)
        return json({"deleted": cid})
    return json(current)


@guard
async def stats(request: Request) -> Response:
    site = site_param(request)
    cid = _cid(request)
    live = live_of(request)
    raw = await live.store.campaigns.load(site, cid)
    if raw is None:
        raise ApiError(404, "not_found", f"no campaign {cid!r} on site {site!r}")
    counts = await live.store.campaigns.stats(site, cid)
    return json({"id": cid, "site": site, **campaign_results([v["id"] for v in raw["variants"]], counts)})


# ---------------------------------------------------------------- python -m server campaigns export|import


def _drop_none(obj: object) -> object:
    """TOML has no null: leave unset fields out (they read back as their defaults)."""
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [_drop_none(v) for v in obj]
    return obj


async def _open_store(cfg: Config) -> tuple[Store, EmbeddedRedis | None]:
    """The configured Redis; else a running server's embedded one; else start the embedded one briefly."""
    url, emb = cfg["redis.url"], None
    if not url:
        emb = EmbeddedRedis(cfg.data_dir, maxmemory=cfg["redis.maxmemory"])
        url = emb.url
    store = Store(url, cfg["redis.prefix"], durable_acks=False)
    try:
        await store.open(wait=0.5 if emb else 5.0)
        return store, None
    except StoreError:
        await store.close()
        if emb is None:
            raise
    emb.start()
    store = Store(emb.url, cfg["redis.prefix"], durable_acks=False)
    await store.open()
    return store, emb


async def cli(cfg: Config, action: str, path: str, site: str) -> int:
    if site not in cfg.sites:
        print(f"linger: unknown site {site!r} (sites: {', '.join(cfg.sites)})", file=sys.stderr)
        return 2
    if action == "import":
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            camps = parse_campaigns_toml(text)
        except OSError as e:
            print(f"linger: cannot read {path}: {e.strerror}", file=sys.stderr)
            return 2
        except CampaignError as e:
            print(f"linger: {path}: {e}; nothing was imported", file=sys.stderr)
            return 2
    store, emb = await _open_store(cfg)
    try:
        if action == "export":
            camps = sorted((parse_campaign(c) for c in await store.campaigns.load_all(site)),
                           key=lambda c: (-c.priority, c.id))
            doc = tomli_w.dumps({"campaigns": [_drop_none(c.to_dict()) for c in camps]})
            header = f"# Linger campaigns of site {site!r}: `python -m server campaigns import FILE` loads them.\n"
            if path == "-":
                sys.stdout.write(header + doc)
            else:
                Path(path).write_text(header + doc, encoding="utf-8")
                print(f"exported {len(camps)} campaign(s) of site {site!r} to {path}")
            return 0
        existing = {c["id"] for c in await store.campaigns.load_all(site)}
        for c in camps:
            await store.campaigns.save(site, c.to_dict())  # running instances reload through pub/sub
        new = sum(1 for c in camps if c.id not in existing)
        print(f"imported {len(camps)} campaign(s) into site {site!r}: {new} new, {len(camps) - new} updated")
        return 0
    finally:
        await store.close()
        if emb:
            emb.stop()
