"""The campaign API (/api/v1/campaigns)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..core.campaigns import ID_RE, Campaign, CampaignError, parse_campaign
from ..services import campaigns
from .auth import guard, live_of, site_param
from .errors import ApiError, json

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
        listed = campaigns.listed(live, site)
        return json({"site": site, "count": len(listed), "campaigns": listed})
    camp = _parse(await _body(request))
    if await campaigns.stored(live, site, camp.id) is not None:
        raise ApiError(409, "exists", f"campaign {camp.id!r} exists; PUT /api/v1/campaigns/{camp.id} to change it",
                       "id")
    return await _save(request, site, camp, 201)


def _who(request: Request) -> str:
    return f"api token {request.state.token.name!r}"


async def _save(request: Request, site: str, camp: Campaign, status: int) -> Response:
    return json(await campaigns.save(live_of(request), site, camp, _who(request)), status)


@guard
async def one(request: Request) -> Response:
    site = site_param(request)
    cid = _cid(request)
    live = live_of(request)
    current = await campaigns.stored(live, site, cid)
    if request.method == "PUT":
        body = await _body(request)
        if isinstance(body, dict) and body.get("id", cid) != cid:
            raise ApiError(422, "invalid", "id: does not match the URL", "id")
        return await _save(request, site, _parse(body, cid=cid), 200 if current else 201)
    if current is None:
        raise ApiError(404, "not_found", f"no campaign {cid!r} on site {site!r}")
    if request.method == "DELETE":
        await campaigns.delete(live, site, cid, _who(request))
        return json({"deleted": cid})
    return json(current)


@guard
async def stats(request: Request) -> Response:
    site = site_param(request)
    cid = _cid(request)
    live = live_of(request)
    raw = await campaigns.stored(live, site, cid)
    if raw is None:
        raise ApiError(404, "not_found", f"no campaign {cid!r} on site {site!r}")
    return json({"id": cid, "site": site, **await campaigns.results(live, site, raw)})
