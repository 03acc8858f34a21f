"""Campaign API (/api/v1/campaigns, bearer tokens) and the `campaigns export|import` command."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .api import guard, json, problem
from .core.campaigns import Campaign, CampaignError, parse_campaign
from .live import Live

MAX_BODY = 64 * 1024


def _site(request: Request) -> str | Response:
    site = request.query_params.get("site", "")
    if site not in request.app.state.cfg.sites:
        return problem(400, "bad_site", f"unknown site {site[:64]!r}: pass ?site=<a key from [[sites]]>")
    return site


async def _body(request: Request) -> object | Response:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return problem(413, "too_large", f"a campaign is at most {MAX_BODY} bytes of JSON")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return problem(400, "bad_json", "the body must be a JSON object")


def _invalid(e: CampaignError) -> Response:
    return json({"error": {"code": "invalid", "msg": str(e), "field": e.field}}, 422)


@guard
async def list_or_create(request: Request) -> Response:
    site = _site(request)
    if isinstance(site, Response):
        return site
    live: Live = request.app.state.live
    if request.method == "GET":
        camps = sorted(live.rules_for(site).campaigns, key=lambda c: (-c.priority, c.id))
        return json({"site": site, "count": len(camps), "campaigns": [c.to_dict() for c in camps]})
    body = await _body(request)
    if isinstance(body, Response):
        return body
    try:
        camp = parse_campaign(body)
    except CampaignError as e:
        return _invalid(e)
    if await live.store.load_campaign(site, camp.id) is not None:
        return problem(409, "exists", f"campaign {camp.id!r} exists; PUT /api/v1/campaigns/{camp.id} to change it")
    return await _save(live, site, camp, 201)


async def _save(live: Live, site: str, camp: Campaign, status: int) -> Response:
    await live.store.save_campaign(site, camp.to_dict())
    await live.campaigns_changed(site)  # this instance at once; the others through pub/sub
    return json(camp.to_dict(), status)


@guard
async def one(request: Request) -> Response:
    site = _site(request)
    if isinstance(site, Response):
        return site
    live: Live = request.app.state.live
    cid = request.path_params["cid"][:64]
    current = await live.store.load_campaign(site, cid)
    if request.method == "PUT":
        body = await _body(request)
        if isinstance(body, Response):
            return body
        if isinstance(body, dict) and body.get("id", cid) != cid:
            return json({"error": {"code": "invalid", "msg": "id: does not match the URL", "field": "id"}}, 422)
        try:
            camp = parse_campaign(body, cid=cid)
        except CampaignError as e:
            return _invalid(e)
        return await _save(live, site, camp, 200 if current else 201)
    if current is None:
        return problem(404, "not_found", f"no campaign {cid!r} on site {site!r}")
    if request.method == "DELETE":
        await live.store.delete_campaign(site, cid)
        await live.campaigns_changed(site)
        return json({"deleted": cid})
    return json(current)


@guard
async def stats(request: Request) -> Response:
    site = _site(request)
    if isinstance(site, Response):
        return site
    live: Live = request.app.state.live
    cid = request.path_params["cid"][:64]
    raw = await live.store.load_campaign(site, cid)
    if raw is None:
        return problem(404, "not_found", f"no campaign {cid!r} on site {site!r}")
    counts = await live.store.campaign_stats(site, cid)
    from .core.stats import campaign_results

    return json({"id": cid, "site": site, **campaign_results([v["id"] for v in raw["variants"]], counts)})
