"""The merchant admin's pages: sign-in, the campaign list (pause and resume), the audit log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ...core.campaigns import parse_campaign
from ...core.stats import FUNNEL, FUNNEL_NAMES, funnel_report
from ...redact import redact_endpoint
from ...services import accounts
from ...services import alerts as alert_service
from ...services import campaigns as campaign_service
from ...ws import client_ip
from .session import current, end, same_origin, signed_in, start

ROOT = Path(__file__).resolve().parents[3]
templates = Jinja2Templates(directory=ROOT / "templates")
templates.env.filters["when"] = lambda t: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(t))) if t else ""


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
    user = getattr(request.state, "user", None)
    cfg = request.app.state.cfg
    sites = accounts.sites_of(user, cfg) if user else []
    return templates.TemplateResponse(request, f"admin/{name}", {
        "user": user, "csrf": getattr(request.state, "csrf", ""), "sites": [(s, cfg.sites[s].name) for s in sites],
        "can": (lambda action, site=None: accounts.can(user, action, site)) if user else (lambda *a: False),
        **ctx}, status_code=status)


def site_of(request: Request) -> str:
    """The ?site= this person may see (their first site by default); others are 404."""
    user, cfg = request.state.user, request.app.state.cfg
    mine = accounts.sites_of(user, cfg)
    site = request.query_params.get("site") or (mine[0] if mine else "")
    if site not in mine:
        raise HTTPException(404, "There is no such site, or it is not one of yours.")
    return site


def editable_site(request: Request) -> str:
    """site_of, for a change to its campaigns: roles that may only look get a 403."""
    site = site_of(request)
    if not accounts.can(request.state.user, "edit_campaigns", site):
        raise HTTPException(403, "Your role can look at campaigns but not change them.")
    return site


def _next(raw: str | None) -> str:
    """Where to go after signing in: only a path of ours (never another site: no open redirect)."""
    return raw if raw and raw.startswith("/admin") and not raw.startswith("//") and "\\" not in raw else "/admin"


async def login(request: Request) -> Response:
    if request.method == "GET":
        if await current(request) is not None:
            return RedirectResponse(_next(request.query_params.get("next")), status_code=303)
        return render(request, "login.html", values={}, errors={}, next=request.query_params.get("next", ""),
                      signed_out="signed_out" in request.query_params)
    form = await request.form(max_files=0, max_fields=10)
    email, password = str(form.get("email", ""))[:254], str(form.get("password", ""))[:1024]
    to = _next(str(form.get("next", "")))
    if not same_origin(request):
        raise HTTPException(403, "This form did not come from this page. Reload and try again.")
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "Enter your email address."
    if not password:
        errors["password"] = "Enter your password."
    if not errors:
        try:
            user = await accounts.sign_in(request.app.state.live.store, request.app.state.cfg, email, password,
                                          client_ip(request))
            return await start(request, user, to)
        except accounts.SignInRefused as e:
            errors[e.field or "form"] = e.msg
    return render(request, "login.html", status=400 if errors.keys() - {"form"} else 429 if "Too many" in
                  errors.get("form", "") else 400, values={"email": email}, errors=errors, next=to, signed_out=False)


@signed_in
async def logout(request: Request) -> Response:
    return await end(request)


@signed_in
async def home(request: Request) -> Response:
    return RedirectResponse(f"/admin/campaigns?site={quote(site_of(request))}", status_code=303)


@signed_in
async def campaign_list(request: Request) -> Response:
    site = site_of(request)
    live = request.app.state.live
    archived = request.query_params.get("archived") == "1"
    rows = []
    everything = await live.store.campaigns.load_all(site)
    for raw in sorted(everything, key=lambda c: (-c.get("priority", 0), c["id"])):
        if (raw.get("status") == "archived") == archived:
            rows.append({**raw, "week": await campaign_service.last_days(live, site, raw)})
    changed = request.query_params.get("changed", "")
    return render(request, "campaigns.html", site=site, site_name=request.app.state.cfg.sites[site].name,
                  campaigns=rows, changed=changed if any(r["id"] == changed for r in everything) else "",
                  archived=archived, archived_count=sum(1 for c in everything if c.get("status") == "archived"))


@signed_in
async def campaign_status(request: Request) -> Response:
    site = editable_site(request)
    form = await request.form()
    status = str(form.get("status", ""))
    if status not in ("live", "paused", "archived"):
        raise HTTPException(400, "Choose live, paused or archived.")
    cid = request.path_params["cid"]
    saved = await campaign_service.set_status(request.app.state.live, site, cid, status,
                                              request.state.user["email"])
    if saved is None:
        raise HTTPException(404, "There is no such campaign.")
    return RedirectResponse(f"/admin/campaigns?site={quote(site)}&changed={quote(cid)}", status_code=303)


@signed_in
async def campaign_move(request: Request) -> Response:
    """Move a campaign up or down the priority order: the list keeps its order otherwise."""
    site = editable_site(request)
    form = await request.form()
    live = request.app.state.live
    ordered = sorted(await live.store.campaigns.load_all(site), key=lambda c: (-c.get("priority", 0), c["id"]))
    cid = request.path_params["cid"]
    at = next((n for n, c in enumerate(ordered) if c["id"] == cid), None)
    if at is None:
        raise HTTPException(404, "There is no such campaign.")
    other = at - 1 if form.get("to") == "up" else at + 1
    if 0 <= other < len(ordered):  # swap the two, then number the whole list 10, 20, ... from the bottom
        ordered[at], ordered[other] = ordered[other], ordered[at]
        who = request.state.user["email"]
        for n, camp in enumerate(ordered):
            priority = (len(ordered) - n) * 10
            if camp.get("priority") != priority:
                await campaign_service.save(live, site, parse_campaign({**camp, "priority": priority}), who)
    return RedirectResponse(f"/admin/campaigns?site={quote(site)}&changed={quote(cid)}", status_code=303)


@signed_in
async def audit_log(request: Request) -> Response:
    site = site_of(request)
    store = request.app.state.live.store
    entries = await store.users.audit_log(site)
    if accounts.can(request.state.user, "users"):
        entries = sorted(entries + await store.users.audit_log("*"), key=lambda e: -e["at"])[:200]
    return render(request, "audit.html", site=site, site_name=request.app.state.cfg.sites[site].name,
                  entries=entries)


@signed_in
async def funnel(request: Request) -> Response:
    site = site_of(request)
    days = {"1": 1, "7": 7, "30": 30, "90": 90}.get(request.query_params.get("days", "7"), 7)
    live = request.app.state.live
    counts = await live.store.funnel.counts(site, FUNNEL, days, live.clock())
    return render(request, "funnel.html", site=site, site_name=request.app.state.cfg.sites[site].name, days=days,
                  report=funnel_report(counts), names=FUNNEL_NAMES, nav="funnel")


@signed_in
async def settings(request: Request) -> Response:
    """The site's settings as config.toml sets them (read-only here), its webhooks with a test button,
    and their delivery log."""
    site = site_of(request)
    live = request.app.state.live
    conf = request.app.state.cfg.sites[site]
    sent = ""
    if request.method == "POST":
        if not accounts.can(request.state.user, "settings", site):
            raise HTTPException(403, "Your role can look at settings but not use them.")
        form = await request.form()
        n = str(form.get("webhook", ""))
        if not n.isdigit() or int(n) >= len(conf.webhooks):
            raise HTTPException(404, "There is no such webhook.")
        sent = await alert_service.send_test(live, site, conf.webhooks[int(n)].url, request.state.user["email"])
    return render(request, "settings.html", site=site, site_name=conf.name, conf=conf, sent=sent,
                  hooks=[(n, redact_endpoint(h.url), h.events) for n, h in enumerate(conf.webhooks)],
                  deliveries=await alert_service.deliveries(live, site), nav="settings",
                  config_path=str(request.app.state.cfg.path or "config.toml"))


@signed_in
async def tokens(request: Request) -> Response:
    """The site's API tokens made here: create (the token is shown once), revoke."""
    site = site_of(request)
    store = request.app.state.live.store
    made, errors = "", {}
    if request.method == "POST":
        if not accounts.can(request.state.user, "settings", site):
            raise HTTPException(403, "Your role cannot manage API tokens.")
        form = await request.form(max_files=0, max_fields=10)
        if form.get("revoke"):
            if not await accounts.revoke_token(store, site, str(form["revoke"]), request.state.user["email"]):
                raise HTTPException(404, "There is no such token.")
        else:
            try:
                made = await accounts.make_token(store, site, str(form.get("name", ""))[:200],
                                                 request.state.user["email"])
            except accounts.AccountError as e:
                errors[e.field] = e.msg
    return render(request, "tokens.html", status=422 if errors else 200, site=site,
                  site_name=request.app.state.cfg.sites[site].name, made=made, errors=errors,
                  tokens=await accounts.site_tokens(store, site), nav="settings")


@signed_in
async def preview(request: Request) -> Response:
    return render(request, "preview.html")


async def error_page(request: Request, status: int, message: str) -> Response:
    found = await current(request)
    if found is not None:
        request.state.user, request.state.csrf = found[0], found[1]["csrf"]
    return render(request, "error.html", status=status, status_code=status, message=message)
