"""The typed messages the server sends a widget (PROTOCOL.md v1 and its extensions), defined once.
Each is a frozen dataclass whose fields are exactly its JSON (orjson serializes them as they are),
with `t` naming the type. Pure data: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Popup:
    """Show this popup now (also the popup an `arm` shows by itself)."""

    cid: str
    var: str
    kind: str
    layout: str
    content: dict[str, Any]
    style: dict[str, Any]
    t: Literal["popup"] = "popup"


@dataclass(frozen=True, slots=True)
class Arm:
    """A popup the widget shows by itself the instant one of `how` (exit intents) happens."""

    popup: Popup
    how: tuple[str, ...]
    on: Literal["exit"] = "exit"
    t: Literal["arm"] = "arm"


@dataclass(frozen=True, slots=True)
class Disarm:
    cid: str
    t: Literal["disarm"] = "disarm"


@dataclass(frozen=True, slots=True)
class Close:
    cid: str
    t: Literal["close"] = "close"


@dataclass(frozen=True, slots=True)
class Nudge:
    """While every tab is hidden: swap the tab title (alternating with `alt`) and the favicon."""

    title: str
    alt: str
    favicon: dict[str, str]
    sound: bool
    t: Literal["nudge"] = "nudge"


@dataclass(frozen=True, slots=True)
class Ready:
    vid: str
    sid: str
    resumed: bool
    settings: dict[str, Any]
    armed: tuple[Arm, ...] = field(default_factory=tuple)
    t: Literal["ready"] = "ready"


@dataclass(frozen=True, slots=True)
class Ack:
    id: str
    t: Literal["ack"] = "ack"


@dataclass(frozen=True, slots=True)
class Error:
    code: str  # bad_message | unavailable | rate_limited
    msg: str
    ref: str | None = None
    t: Literal["error"] = "error"


Outbound = Popup | Arm | Disarm | Close | Nudge | Ready | Ack | Error
