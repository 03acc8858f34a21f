"""The lead API: list (filters, cursor pagination), CSV export (streamed, formula-safe), GDPR erasure."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..core.leads import normalize_email
from ..services import leads
from ..services.accounts import audit
from ..services.leads import Cursor
from .auth import guard, int_param, live_of, site_param
from .errors import ApiError, json

MAX_CURSOR = 1024


def cursor_out(lead: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([lead["first_seen"], lead["email"]])).decode()


def cursor_in(raw: str) -> Cursor:
    """A next_cursor value from an earlier page; anything else is a 400, never a 500."""
    bad = ApiError(400, "bad_cursor", "cursor must be a next_cursor value from an earlier page", "cursor")
    if len(raw) > MAX_CURSOR or not raw.isascii():
        raise bad
    try:
        value = orjson.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise bad from None
    if (not isinstance(value, list) or len(value) != 2 or isinstance(value[0], bool)
            or not isinstance(value[0], (int, float)) or not math.isfinite(value[0])
            or not isinstance(value[1], str) or len(value[1]) > 254):
        raise bad
    return float(value[0]), value[1]


def _filters(request: Request) -> tuple[str, dict[str, Any]]:
    q = request.query_params
    site = site_param(request)
    f: dict[str, Any] = {}
    for name, choices in (("source", ("field", "popup")), ("consent", ("yes", "no")),
                          ("temperature", ("cold", "warm", "hot"))):
        if q.get(name):
            if q[name] not in choices:
                raise ApiError(400, "bad_filter", f"{name} must be {' or '.join(choices)}", name)
            f[name] = q[name] == "yes" if name == "consent" else q[name]
    f["limit"] = int_param(request, "limit", 100, 1, 1000)
    f["cursor"] = cursor_in(q["cursor"]) if q.get("cursor") else None
    return site, f


@guard
async def list_leads(request: Request) -> Response:
    site, f = _filters(request)
    page = await leads.page(live_of(request), site, f["cursor"], f["limit"])
    more = len(page) == f["limit"]
    return json({"site": site, "leads": [x for x in page if leads.keep(x, f)],
                 "next_cursor": cursor_out(page[-1]) if more else None})


@guard
async def leads_csv(request: Request) -> Response:
    site, f = _filters(request)
    return StreamingResponse(leads.csv_chunks(live_of(request), site, f), media_type="text/csv; charset=utf-8",
                             headers={"content-disposition": f'attachment; filename="leads-{site}.csv"'})


async def _address(request: Request) -> str:
    """The address to erase: in the path, in ?email=, or in a JSON body {"email": ...}."""
    raw = request.path_params.get("email") or request.query_params.get("email")
    if raw is None:
        body = await request.body()
        if len(body) > 4096:
            raise ApiError(413, "too_large", "the body is at most 4 KiB")
        try:
            doc = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            raise ApiError(400, "bad_json", 'the body must be JSON like {"email": "..."}') from None
        raw = doc.get("email") if isinstance(doc, dict) else None
    if not isinstance(raw, str) or not raw:
        raise ApiError(400, "bad_email", 'name the address: ?email=, or a JSON body {"email": "..."}', "email")
    email = normalize_email(raw)
    if email is None:
        raise ApiError(400, "bad_email", "not a valid email address", "email")
    return email


@guard
async def erase(request: Request) -> Response:
    site = site_param(request)
    email = await _address(request)
    live = live_of(request)
    result = await leads.erase(live, site, email)
    if not result["lead"] and not result["visitors"]:
        raise ApiError(404, "not_found", "no lead with that address on this site")
    # audited without the address itself (erasure is forgetting): a salted hash says which request it was
    import hashlib

    mark = hashlib.sha256(f"{site}\0{email}".encode()).hexdigest()[:12]
    await audit(live.store, site, f"api token {request.state.token.name!r}", "lead.erased", f"address #{mark}",
                None, {k: v for k, v in result.items() if isinstance(v, int)})
    return json({"erased": email, **result})
