"""The campaign editor and results pages: every field of the model, the model's own errors next to
each field, new campaigns from templates, variants added and removed, saved for every shopper at once."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...core.campaigns import ID_RE, CampaignError, parse_campaign
from ...services import campaigns as campaign_service
from ...services.campaign_templates import TEMPLATES, new_from
from . import forms
from .pages import editable_site, render, site_of
from .session import signed_in


async def _stored(request: Request, site: str) -> tuple[str, dict[str, Any] | None]:
    """The campaign named in the path, as stored (None for an id that is not one)."""
    cid = request.path_params["cid"]
    return cid, await request.app.state.live.store.campaigns.load(site, cid) if ID_RE.match(cid) else None


def _page(request: Request, site: str, camp: dict[str, Any], new: bool, errors: dict[str, str] | None = None,
          status: int = 200, preview_url: str = "", version: str = "") -> Response:
    return render(request, "editor.html", status=status, site=site, site_name=request.app.state.cfg.sites[site].name,
                  camp=camp, new=new, errors=errors or {}, schema=forms.CAMPAIGN, variant_fields=forms.VARIANT,
                  value=forms.value, readability=forms.readability, preview_url=preview_url,
                  version=version or version_of(camp if not new else None),
                  preview_minutes=campaign_service.PREVIEW_TTL_S // 60, nav="campaigns")


@signed_in
async def new(request: Request) -> Response:
    site = editable_site(request)
    if request.method == "POST":  # a new campaign names its id in the form; an existing one is never replaced
        form = await request.form(max_files=0, max_fields=2000)
        cid = str(form.get("id", "")).strip()
        if not ID_RE.match(cid):
            return _page(request, site, forms.campaign_from(form, cid), True,
                         {"id": "Use 1-64 letters, digits, _ or -."}, 422)
        if await request.app.state.live.store.campaigns.load(site, cid) is not None:
            return _page(request, site, forms.campaign_from(form, cid), True,
                         {"id": "A campaign with this id exists: choose another."}, 422)
        return await _submit(request, site, cid, form, new=True)
    source = request.query_params.get("from", "")
    if source:  # duplicate: the campaign as stored, as a paused draft with a new id
        stored = await request.app.state.live.store.campaigns.load(site, source) if ID_RE.match(source) else None
        if stored is None:
            raise HTTPException(404, "There is no such campaign to copy.")
        copy = {**stored, "id": f"{source[:58]}-{secrets.token_hex(2)}", "name": f"{stored['name']} (copy)"[:200],
                "status": "draft"}
        return _page(request, site, copy, new=True)
    template = request.query_params.get("template", "welcome")
    if template not in TEMPLATES:
        raise HTTPException(404, "There is no such template.")
    return _page(request, site, new_from(template, f"{template.replace('_', '-')}-{secrets.token_hex(2)}"), new=True)


@signed_in
async def edit(request: Request) -> Response:
    site = site_of(request)
    cid, stored = await _stored(request, site)
    if stored is None:  # never creates: new campaigns are posted to /admin/campaigns/new
        raise HTTPException(404, "There is no such campaign.")
    if request.method == "GET":
        return _page(request, site, stored, new=False)
    editable_site(request)
    form = await request.form(max_files=0, max_fields=2000)
    if form.get("action") == "save" and str(form.get("version", "")) != version_of(stored):
        # changed since this form was opened (another tab, another person, the API): never overwritten
        return _page(request, site, forms.campaign_from(form, cid), False,
                     {"form": "Someone changed this campaign after you opened it. Open it again to see their "
                              "version (the history has both), then make your change."}, 409,
                     version=str(form.get("version", ""))[:32])
    return await _submit(request, site, cid, form, new=False)


def version_of(camp: dict[str, Any] | None) -> str:
    """What the form was opened on: a hash of the stored campaign."""
    import hashlib

    import orjson

    return hashlib.sha256(orjson.dumps(camp, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16] if camp else ""


async def _submit(request: Request, site: str, cid: str, form: Any, new: bool) -> Response:
    """Save, add a variant, or preview on the store: what the form holds, validated by the model."""
    live = request.app.state.live
    camp = forms.campaign_from(form, cid)
    opened = str(form.get("version", ""))[:32]  # the stored version this form was opened on, kept across re-renders
    if form.get("action") == "add_variant":
        used = {str(v.get("id", "")) for v in camp["variants"]}
        vid = next(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in used)
        camp["variants"].append({"id": vid, "weight": 1, "layout": "modal", "content": {"headline": ""}, "style": {}})
        return _page(request, site, camp, new, version=opened)
    try:
        parsed = parse_campaign(camp, cid=cid)
    except CampaignError as e:
        return _page(request, site, camp, new, {forms.error_path(e.field): e.msg}, 422, version=opened)
    if form.get("action") == "preview_store":  # not saved: a short-lived token shows it to one browser
        raw = str(form.get("preview_variant", "0"))
        variant = int(raw) if re.fullmatch(r"[0-9]{1,2}", raw) else 0
        token = await campaign_service.start_preview(live, site, parsed, variant)
        store_url = request.app.state.cfg.sites[site].origins[0] + "/?linger_preview=" + token
        return _page(request, site, camp, new, preview_url=store_url, version=opened)
    await campaign_service.save(live, site, parsed, request.state.user["email"])
    return RedirectResponse(f"/admin/campaigns?site={quote(site)}&changed={quote(cid)}", status_code=303)


@signed_in
async def results(request: Request) -> Response:
    site = site_of(request)
    live = request.app.state.live
    _, stored = await _stored(request, site)
    if stored is None:
        raise HTTPException(404, "There is no such campaign.")
    res = await campaign_service.results(live, site, stored)
    for row in res["variants"]:
        row["per_impression"] = row["revenue"] / row["impressions"] if row["impressions"] else 0.0
    days = await campaign_service.daily(live, site, stored)
    peak = max([d["impressions"] for d in days] + [1])
    return render(request, "results.html", site=site, site_name=request.app.state.cfg.sites[site].name,
                  camp=stored, results=res, days=days, peak=peak, nav="campaigns")


def flat(obj: object, prefix: str = "") -> dict[str, object]:
    """{"variants.0.content.headline": "Hi", ...}: a campaign as paths, for a field-by-field diff."""
    if isinstance(obj, dict):
        out: dict[str, object] = {}
        for k, v in obj.items():
            out.update(flat(v, f"{prefix}{k}."))
        return out
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        out = {}
        for n, v in enumerate(obj):
            out.update(flat(v, f"{prefix}{n}."))
        return out
    return {prefix.rstrip("."): obj}


def diff(before: object, after: object) -> list[tuple[str, object, object]]:
    a, b = flat(before or {}), flat(after or {})
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


@signed_in
async def history(request: Request) -> Response:
    """Every saved version of the campaign (from the audit log), what changed in each, and restore."""
    site = site_of(request)
    cid = request.path_params["cid"]
    if not ID_RE.match(cid):
        raise HTTPException(404, "There is no such campaign.")
    live = request.app.state.live
    entries = [e for e in await live.store.users.audit_log(site, limit=2000)
               if e.get("target") == cid and str(e.get("what", "")).startswith("campaign.")]
    if request.method == "POST":
        editable_site(request)
        form = await request.form()
        at = str(form.get("version", ""))
        version = next((e for e in entries if repr(e["at"]) == at and e.get("after")), None)
        if version is None:
            raise HTTPException(404, "There is no such version.")
        now_stored = await live.store.campaigns.load(site, cid)
        keep = {"status": now_stored["status"]} if now_stored else {}  # a restore never puts a campaign live
        try:
            camp = parse_campaign({**version["after"], **keep}, cid=cid)
        except CampaignError as e:
            raise HTTPException(422, f"That version no longer passes today's checks ({e}).") from None
        await campaign_service.save(live, site, camp, request.state.user["email"] + " (restored a version)")
        return RedirectResponse(f"/admin/campaigns/{quote(cid)}/history?site={quote(site)}", status_code=303)
    versions = [{**e, "changes": diff(e.get("before"), e.get("after")), "key": repr(e["at"])} for e in entries]
    current = await live.store.campaigns.load(site, cid)
    return render(request, "history.html", site=site, site_name=request.app.state.cfg.sites[site].name, cid=cid,
                  current=current, versions=versions, nav="campaigns")
