"""The merchant admin at /admin (server-rendered Jinja2 pages, no front-end framework)."""

from __future__ import annotations

from starlette.routing import Route

from . import pages


def routes() -> list[Route]:
    return [
        Route("/admin", pages.home),
        Route("/admin/login", pages.login, methods=["GET", "POST"]),
        Route("/admin/logout", pages.logout, methods=["POST"]),
        Route("/admin/campaigns", pages.campaign_list),
        Route("/admin/campaigns/{cid}/status", pages.campaign_status, methods=["POST"]),
        Route("/admin/audit", pages.audit_log),
    ]
