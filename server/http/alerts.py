"""The alert and webhook delivery API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..services import alerts as service
from .auth import guard, live_of, site_param
from .errors import json


@guard
async def deliveries(request: Request) -> Response:
    site = site_param(request)
    return json({"site": site, **await service.deliveries(live_of(request), site)})


@guard
async def alerts(request: Request) -> Response:
    site = site_param(request)
    return json({"site": site, "alerts": await service.alerts(live_of(request), site)})
