"""The merchant admin at /admin (server-rendered Jinja2 pages, no front-end framework)."""

from __future__ import annotations

from starlette.routing import Route

from . import editor, pages


def routes() -> list[Route]:
    return [
        Route("/admin", pages.home),
        Route("/admin/login", pages.login, methods=["GET", "POST"]),
        Route("/admin/logout", pages.logout, methods=["POST"]),
        Route("/admin/campaigns", pages.campaign_list),
        Route("/admin/campaigns/new", editor.new, methods=["GET", "POST"]),
        Route("/admin/campaigns/{cid}/edit", editor.edit, methods=["GET", "POST"]),
        Route("/admin/campaigns/{cid}/results", editor.results),
        Route("/admin/campaigns/{cid}/history", editor.history, methods=["GET", "POST"]),
        Route("/admin/campaigns/{cid}/status", pages.campaign_status, methods=["POST"]),
        Route("/admin/campaigns/{cid}/move", pages.campaign_move, methods=["POST"]),
        Route("/admin/audit", pages.audit_log),
        Route("/admin/funnel", pages.funnel),
        Route("/admin/settings", pages.settings, methods=["GET", "POST"]),
        Route("/admin/tokens", pages.tokens, methods=["GET", "POST"]),
        Route("/admin/preview", pages.preview),
    ]
