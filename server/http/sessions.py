"""The sessions API and /healthz, /metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..services import sessions
from .auth import guard, int_param, live_of, site_param
from .errors import ApiError, json


@guard
async def list_sessions(request: Request) -> Response:
    site = site_param(request)
    limit = int_param(request, "limit", 500, 1, 5000)
    out = await sessions.live_views(live_of(request), site, limit)
    return json({"site": site, "count": len(out), "sessions": out})


@guard
async def get_session(request: Request) -> Response:
    site = site_param(request)
    view = await sessions.view(live_of(request), site, request.path_params["sid"])
    if view is None:  # another site's session does not exist for this caller
        raise ApiError(404, "not_found", "no such session on this site (it may have ended)")
    return json(view)


async def healthz(request: Request) -> Response:
    body = await sessions.health(live_of(request))
    return json(body, 200 if body["ok"] else 503)


async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")
