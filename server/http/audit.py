"""The audit log through the API (/api/v1/audit?site=KEY): every change, newest first."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .auth import guard, int_param, live_of, site_param
from .errors import json


@guard
async def audit(request: Request) -> Response:
    site = site_param(request)
    limit = int_param(request, "limit", 100, 1, 1000)
    return json({"site": site, "entries": await live_of(request).store.users.audit_log(site, limit)})
