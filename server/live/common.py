"""What the parts of the live glue share: the socket as they see it, refusals, ids, site rules."""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any, Protocol

from ..config import Config
from ..core.campaigns import CampaignError, parse_campaign
from ..core.rules import Nudge, SiteRules
from ..core.wire import Outbound

log = logging.getLogger("linger.live")

NO_RULES = SiteRules()


class Peer(Protocol):
    """A widget socket as this module sees it (ws.Conn)."""

    def push(self, msg: Outbound) -> None: ...

    async def close(self, code: int, reason: str = "") -> None: ...


class Refused(Exception):
    """A client message or hello this server will not apply; `code` goes back in the error."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def mint_id() -> str:
    return secrets.token_urlsafe(16)


def vid_hash(vid: str) -> str:
    """How an erasure names a visitor to the other instances, so the announcement, kept an hour for
    instances that missed it, holds no visitor id."""
    return hashlib.sha256(f"linger-erase:{vid}".encode()).hexdigest()[:32]


def load_rules(cfg: Config, site: str, raw_campaigns: list[dict[str, Any]]) -> SiteRules:
    camps = []
    for raw in raw_campaigns:
        try:
            camps.append(parse_campaign(raw))
        except CampaignError as e:  # stored by an older version, or edited by hand
            log.error("site %s: skipping campaign %r: %s", site, raw.get("id"), e)
    conf = cfg.sites[site]
    nudge = None if conf.nudge == "off" else Nudge(
        title=conf.nudge_title, alt_title=conf.nudge_alt_title, sound=conf.nudge_sound,
        min_total=conf.nudge_min_total, target=conf.nudge_target)
    return SiteRules(campaigns=tuple(camps), min_gap=conf.popup_gap_s, attribution_days=conf.attribution_days,
                     nudge=nudge, capture=conf.capture, alert_total=conf.alert_cart_total,
                     hooks=tuple((h.url, h.events) for h in conf.webhooks), followups=conf.followups)
