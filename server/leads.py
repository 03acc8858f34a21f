"""Lead API: list (filters, cursor pagination), CSV export (streamed, formula-safe), GDPR erasure."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .api import guard, json, problem, site_param
from .core.leads import CSV_COLUMNS, csv_row, normalize_email
from .live import Live

Cursor = tuple[float, str]


def _cursor_out(lead: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([lead["first_seen"], lead["email"]])).decode()


def _cursor_in(raw: str) -> Cursor | None:
    score, email = orjson.loads(base64.urlsafe_b64decode(raw.encode()))
    return float(score), str(email)


def _filters(request: Request) -> tuple[str, dict[str, Any]] | Response:
    q = request.query_params
    site = site_param(request)
    if isinstance(site, Response):
        return site
    f: dict[str, Any] = {}
    if q.get("source"):
        if q["source"] not in ("field", "popup"):
            return problem(400, "bad_filter", "source must be field or popup")
        f["source"] = q["source"]
    if q.get("consent"):
        if q["consent"] not in ("yes", "no"):
            return problem(400, "bad_filter", "consent must be yes or no")
        f["consent"] = q["consent"] == "yes"
    if q.get("temperature"):
        if q["temperature"] not in ("cold", "warm", "hot"):
            return problem(400, "bad_filter", "temperature must be cold, warm or hot")
        f["temperature"] = q["temperature"]
    try:
        f["limit"] = int(q.get("limit", "100"))
        if not 1 <= f["limit"] <= 1000:
            raise ValueError
    except ValueError:
        return problem(400, "bad_limit", "limit must be an integer between 1 and 1000")
    try:
        f["cursor"] = _cursor_in(q["cursor"]) if q.get("cursor") else None
    except (ValueError, TypeError, orjson.JSONDecodeError):
        return problem(400, "bad_cursor", "cursor must be a next_cursor value from an earlier page")
    return site, f


def _keep(lead: dict[str, Any], f: dict[str, Any]) -> bool:
    return (("source" not in f or lead["source"] == f["source"])
            and ("consent" not in f or lead["consent"]["given"] == f["consent"])
            and ("temperature" not in f or lead.get("temperature") == f["temperature"]))


@guard
async def list_leads(request: Request) -> Response:
    parsed = _filters(request)
    if isinstance(parsed, Response):
        return parsed
    site, f = parsed
    live: Live = request.app.state.live
    page = await live.store.lead_page(site, f["cursor"], f["limit"])
    more = len(page) == f["limit"]
    return json({"site": site, "leads": [x for x in page if _keep(x, f)],
                 "next_cursor": _cursor_out(page[-1]) if more else None})


@guard
async def leads_csv(request: Request) -> Response:
    parsed = _filters(request)
    if isinstance(parsed, Response):
        return parsed
    site, f = parsed
    live: Live = request.app.state.live

    async def rows() -> AsyncIterator[str]:
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(CSV_COLUMNS)
        cursor = None
        while True:
            page = await live.store.lead_page(site, cursor, 500)
            for lead in page:
                if _keep(lead, f):
                    out.writerow(csv_row(lead))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            if len(page) < 500:
                return
            cursor = (page[-1]["first_seen"], page[-1]["email"])

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"content-disposition": f'attachment; filename="leads-{site}.csv"'})


@guard
async def erase(request: Request) -> Response:
    site = site_param(request)
    if isinstance(site, Response):
        return site
    email = normalize_email(request.path_params["email"])
    if email is None:
        return problem(400, "bad_email", "not a valid email address")
    live: Live = request.app.state.live
    result = await live.erase(site, email)
    if not result["lead"] and not result["visitors"]:
        return problem(404, "not_found", "no lead with that address on this site")
    return json({"erased": email, **result})
