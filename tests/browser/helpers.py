"""Small helpers shared by the browser tests."""

from __future__ import annotations

import json
from typing import Any

# messages waiting in the widget's outbox: one linger.ob.<id> key each (and the array an older widget kept)
OUTBOX = """(() => {
  let n = 0;
  for (let i = 0; i < localStorage.length; i++) if (localStorage.key(i).startsWith('linger.ob.')) n++;
  return n + JSON.parse(localStorage.getItem('linger.outbox') || '[]').length;
})()"""


def ready(page: Any) -> dict[str, Any]:
    page.wait_for_function("window.linger && window.linger.loaded && window.linger.state.connected")
    return page.evaluate("({vid: linger.state.vid, sid: linger.state.sid})")  # type: ignore[no-any-return]


def sent_frames(page: Any) -> list[str]:
    """Every text frame the page sends on any widget socket from now on (raw, as it went out)."""
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(
        payload if isinstance(payload, str) else payload.decode())))
    return frames


def decoded(frames: list[str], t: str) -> list[dict[str, Any]]:
    return [m for m in (json.loads(f) for f in list(frames)) if m.get("t") == t]
