"""Leads: email normalisation and validation, the consent rules, and merging captures into a lead.
Pure: no I/O. The server enforces the consent mode itself; the widget is not trusted.

Capture modes (per site, `sites[].capture`):
- `off`: nothing typed is captured; only addresses submitted in a Linger popup form.
- `consent`: a typed address is captured when its form's consent box is ticked, or when the form is
  submitted; popup submissions too.
- `live`: every valid address typed into an email field is captured the moment it is valid.
With Global Privacy Control (`gpc: true` in hello), only explicitly submitted addresses are captured.
A popup form submission counts only for a popup with a form that this session was shown, once
per impression (until it is closed), so `source: "popup"` cannot be forged to skip the mode.
"""

from __future__ import annotations

import re
from typing import Any

from .vocab import CAPTURE_MODES

MODES = CAPTURE_MODES
MAX_VIDS = 50  # shown on the lead; the full list lives in the email -> visitors index
FORM_WINDOW_S = 1800.0  # a form popup's one submission may arrive this long after it was shown
MAX_ADDRESSES_PER_SESSION = 5  # distinct addresses one visit may leave; more are not kept

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}\Z")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_TLD = re.compile(r"^[a-z]{2,63}\Z|^xn--[a-z0-9-]{1,59}\Z")


def normalize_email(raw: str) -> str | None:
    """The canonical form used to deduplicate (trimmed, lower-cased), or None when not a valid address."""
    email = raw.strip().lower()
    if len(email) > 254 or email.count("@") != 1:
        return None
    local, domain = email.split("@")
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or not _TLD.match(labels[-1]):
        return None
    return email


def may_capture(mode: str, source: str, consent: bool, submitted: bool, gpc: bool,
                form_open: bool = False) -> tuple[bool, str]:
    """Whether this capture may be stored, and why (the reason is logged and counted)."""
    explicit = submitted or source == "popup"
    if source == "popup":
        if not form_open:
            return False, "no popup form is open for this session"
        return True, "submitted in a popup form"
    if mode == "off":
        return False, "live capture is off for this site"
    if gpc and not explicit:
        return False, "Global Privacy Control: only submitted addresses"
    if mode == "consent" and not (consent or explicit):
        return False, "no consent given and not submitted"
    return True, "submitted" if explicit else ("consent given" if consent else "live capture")


def capture_from(site: str, mode: str, s: Any, msg: Any, now: float) -> tuple[dict[str, Any] | None, str]:
    """The capture an `email` message makes for session `s` under `mode`, or None and why not."""
    email = normalize_email(msg.email)
    if email is None:
        return None, "not a valid email address"
    if email not in s.emails and len(s.emails) >= MAX_ADDRESSES_PER_SESSION:
        return None, "too many addresses in one visit"
    form_open = (msg.source == "popup" and bool(s.form) and msg.field == f"popup:{s.form}"
                 and now - s.form_at <= FORM_WINDOW_S)
    ok, why = may_capture(mode, msg.source, msg.consent, msg.submitted, s.gpc, form_open)
    if not ok:
        return None, why
    campaign = s.form if msg.source == "popup" else (s.popup or None)
    return {
        "email": email, "site": site, "vid": s.vid, "sid": s.sid, "at": now, "source": msg.source,
        "field": msg.field, "consent": msg.consent, "consent_text": msg.consent_text,
        "temperature": s.temperature, "campaign": campaign,
        "cart": s.cart(),
    }, why


def identify(s: Any, lead: dict[str, Any], source: str) -> None:
    """The session now knows its shopper's address (and whether it came with consent); a popup
    form that gave it cannot give another."""
    s.has_email, s.email, s.email_consent = True, lead["email"], bool(lead["consent"]["given"])
    if lead["email"] not in s.emails:
        s.emails = s.emails + [lead["email"]]
    if source == "popup":
        s.form = ""


def merge_lead(existing: dict[str, Any] | None, capture: dict[str, Any]) -> dict[str, Any]:
    """Fold one capture into the stored lead (or start one). `capture` holds: email, site, vid, at,
    source, field, consent, consent_text, temperature, cart, campaign."""
    at = capture["at"]
    lead = dict(existing) if existing else {
        "email": capture["email"], "site": capture["site"], "vids": [], "first_seen": at,
        "source": capture["source"], "field": capture["field"], "captures": 0,
        "consent": {"given": False, "at": None, "text": ""}, "campaign": None,
    }
    vids = list(lead["vids"])
    if capture["vid"] not in vids:
        vids = (vids + [capture["vid"]])[-MAX_VIDS:]
    consent = dict(lead["consent"])
    if capture["consent"] and not consent["given"]:
        consent = {"given": True, "at": at, "text": capture.get("consent_text", "")}
    lead.update(
        vids=vids, last_seen=at, last_source=capture["source"], captures=int(lead["captures"]) + 1,
        consent=consent, temperature=capture["temperature"], cart=capture["cart"],
        campaign=capture.get("campaign") or lead.get("campaign"),
    )
    return lead


CSV_COLUMNS = ("email", "vids", "source", "field", "consent", "consent_at", "consent_text", "temperature",
               "cart_total", "cart_count", "currency", "campaign", "captures", "first_seen", "last_seen")


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not run: text that starts like a formula is prefixed with '."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r|%":
        return "'" + text
    return text


def csv_row(lead: dict[str, Any]) -> list[str]:
    cart = lead.get("cart") or {}
    consent = lead.get("consent") or {}
    values = [lead["email"], " ".join(lead.get("vids", [])), lead.get("source"), lead.get("field"),
              "yes" if consent.get("given") else "no", consent.get("at"), consent.get("text"),
              lead.get("temperature"), cart.get("total"), cart.get("count"), cart.get("currency"),
              lead.get("campaign"), lead.get("captures"), lead.get("first_seen"), lead.get("last_seen")]
    return [csv_cell(v) for v in values]
