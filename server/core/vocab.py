"""Every closed set of words the core uses, defined once: a `Literal` type for the checker and a
tuple of its values for validation and docs (the tuple is derived from the type, so they agree)."""

from __future__ import annotations

from typing import Literal, get_args

PageKind = Literal["home", "category", "product", "cart", "checkout", "thanks", "other"]
PushState = Literal["default", "granted", "denied", "unsupported"]
ExitHow = Literal["mouse", "scroll", "back", "blur"]
PopupEvent = Literal["shown", "closed", "clicked", "submitted"]
EmailSource = Literal["field", "popup"]
State = Literal["active", "idle", "hidden", "away", "left", "converted"]
Temperature = Literal["cold", "warm", "hot"]
TimerKind = Literal["idle", "leave", "end", "camp"]
CaptureMode = Literal["off", "consent", "live"]
RecordKind = Literal["purchase", "push", "popupev", "alert"]
CampaignKind = Literal["welcome", "exit", "idle", "hint", "push_prompt", "custom"]
CampaignStatus = Literal["draft", "live", "paused", "archived"]
Layout = Literal["modal", "slide", "bar"]
Placement = Literal["center", "top", "bottom", "bottom-right", "bottom-left"]
Per = Literal["page", "session", "days", "ever"]
Channel = Literal["push", "email"]
Urgency = Literal["very-low", "low", "normal", "high"]

PAGE_KINDS: tuple[str, ...] = get_args(PageKind)
PUSH_STATES: tuple[str, ...] = get_args(PushState)
EXIT_HOWS: tuple[str, ...] = get_args(ExitHow)
POPUP_EVENTS: tuple[str, ...] = get_args(PopupEvent)
EMAIL_SOURCES: tuple[str, ...] = get_args(EmailSource)
STATES: tuple[str, ...] = get_args(State)
TEMPERATURES: tuple[str, ...] = get_args(Temperature)
TIMER_KINDS: tuple[str, ...] = get_args(TimerKind)
CAPTURE_MODES: tuple[str, ...] = get_args(CaptureMode)
RECORD_KINDS: tuple[str, ...] = get_args(RecordKind)
CAMPAIGN_KINDS: tuple[str, ...] = get_args(CampaignKind)
CAMPAIGN_STATUSES: tuple[str, ...] = get_args(CampaignStatus)
LAYOUTS: tuple[str, ...] = get_args(Layout)
PLACEMENTS: tuple[str, ...] = get_args(Placement)
PER: tuple[str, ...] = get_args(Per)
CHANNELS: tuple[Channel, ...] = ("push", "email")
URGENCIES: tuple[str, ...] = get_args(Urgency)
