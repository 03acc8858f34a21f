"""The per-site settings ([[sites]] tables), as one typed table like config_table.py's sections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config_checks import (
    Setting,
    Webhook,
    _bool,
    _choice,
    _followups,
    _hosts,
    _num,
    _str,
    _str_list,
    _target,
    _webhooks,
)
from .config_fields import _table, setting
from .config_table import ORIGIN_RE


@dataclass(frozen=True)
class Site:
    """One shop ([[sites]]); sessions, campaigns and leads belong to one site."""

    key: str = setting(None, "Site key used in the script tag (data-site) and the API (?site=).",
            _str(r"[A-Za-z0-9_\-]{1,64}", allow_empty=False))
    name: str = setting("", "Shop name shown to merchants and in the ops console.",
            _str())
    origins: tuple[str, ...] = setting(None, "Origins (scheme://host[:port]) allowed to open the widget socket.",
            _str_list(ORIGIN_RE, allow_empty=False))
    currency: str = setting("EUR", "Default ISO 4217 currency of the shop.",
            _str(r"[A-Z]{3}"))
    keep_query_params: tuple[str, ...] = setting([],
            "Page URL query parameters kept besides utm_* (everything else, and "
            "the fragment, is dropped before anything is stored, e.g. reset tokens and order keys).",
            _str_list(r"[A-Za-z0-9_.\-\[\]]{1,64}"))
    image_hosts: tuple[str, ...] = setting([], "Hosts cart item images may come from besides the origins (a CDN, e.g. "
            "\"cdn.shopify.com\" or \"*.cdn.example\"). Item links must be on the origins or relative.",
            _hosts)
    popup_gap_s: float = setting(30.0, "Seconds between two popups for one shopper (site-wide; at most one "
            "is ever on screen).",
            _num(0, 86400))
    attribution_days: float = setting(7.0, "A purchase this many days after a popup impression counts for "
            "that campaign (last touch).",
            _num(0, 365))
    capture: str = setting("consent", "Live email capture: off (only popup forms), consent (typed addresses "
            "once the consent box is ticked or the form submitted), live (every valid address as typed).",
            _choice("off", "consent", "live"))
    email_selectors: tuple[str, ...] = setting([],
            "Extra CSS selectors of email inputs to watch, besides type=email and "
            "autocomplete=email.",
            _str_list(r".{1,200}"))
    consent_selector: str = setting("input[name=consent]", "CSS selector of the consent checkbox, looked up "
            "in the email field's form (else the page).",
            _str(r".{1,200}"))
    nudge: str = setting("cart", "Tab nudge: cart (swap the tab title and favicon while a shopper with a "
            "cart is on another tab) or off.",
            _choice("cart", "off"))
    nudge_title: str = setting("({count}) Your cart is waiting", "Tab title while nudging; {count}, "
            "{total} and {currency} are filled in.",
            _str(r".{1,120}", allow_empty=False))
    nudge_alt_title: str = setting("", "If set, the tab title alternates with this every second.",
            _str(r".{1,120}"))
    nudge_sound: bool = setting(False, "Play a short chime with the nudge where the browser allows audio.",
            _bool)
    nudge_min_total: float = setting(0.0, "Nudge only carts of at least this total.",
            _num(0, 1e9))
    nudge_target: Any = setting({}, "Campaign-style targeting for the nudge, e.g. { device = \"desktop\" }.",
            _target)
    alert_cart_total: float = setting(250.0, "A cart of at least this total raises an abandonment alert when it "
            "goes idle at checkout or leaves.",
            _num(0, 1e9))
    webhooks: tuple[Webhook, ...] = setting([],
            "Outbound webhooks: a list of { url, secret (16+ characters), events } with "
            "events from lead.captured, cart.abandoned, alert.raised, purchase.",
            _webhooks)
    followups: Any = setting(
            {}, "Follow-ups after a shopper leaves with a cart: { push_after_s = [3600], email_after_s = [3600, "
            "82800, 172800] }; each delay counts from the previous step's send (the first from leaving), at "
            "most 3 per channel, [] for none. Also quiet_hours = [21, 8] (local hours in the shopper's time "
            "zone: steps wait until they end), code (the last email's incentive code), push_ttl_s, urgency.",
            _followups)
    cart_url: str = setting("", "Where links in follow-ups lead (UTM parameters are added). Empty: the first "
                            "origin + /cart.", _str(r"https?://[^\s]{1,2000}"))
    seed_campaigns: str = setting("", "TOML file of [[campaigns]] loaded on the first start, when the site "
            "has none yet (relative to the config file).",
            _str())


SITE_SETTINGS: tuple[Setting, ...] = _table("sites[]", Site)
