"""The widget socket (/ws): handshake checks, read loop, feed the core, answer.

Reads like websockets' data_received: receive, parse, feed, send what is due.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from .core import protocol as p
from .core.ratelimit import TokenBucket
from .core.session import Session
from .live import Live
from .store import StoreError

log = logging.getLogger("linger.ws")

HELLO_TIMEOUT = 10.0
CLOSE_POLICY = 1008


def widget_settings(cfg: Any, site: str) -> dict[str, Any]:
    """What the widget needs to know, sent in `ready`."""
    conf = cfg.sites[site]
    return {
        "act_every_ms": cfg["timing.act_every_ms"],
        "idle_after_ms": cfg["timing.idle_after_ms"],
        "exit": {
            "sensitivity_px": cfg["exit.sensitivity_px"], "min_dwell_ms": cfg["exit.min_dwell_ms"],
            "delay_ms": cfg["exit.delay_ms"], "scroll_speed": cfg["exit.scroll_speed"],
            "back": cfg["exit.back"], "blur": cfg["exit.blur"],
        },
        "email": {"capture": conf.capture, "selectors": list(conf.email_selectors),
                  "consent_selector": conf.consent_selector},
        "vapid_key": None,
    }


class Conn:
    def __init__(self, ws: WebSocket, live: Live) -> None:
        self.ws = ws
        self.live = live
        self.metrics = live.metrics
        self.id = live.new_conn_id()
        lim = live.cfg
        self.bucket = TokenBucket(rate=lim["limits.frames_per_second"], burst=lim["limits.frame_burst"])
        self.bad = 0
        self.max_bad = lim["limits.max_bad_frames"]
        self.closed = False

    async def send(self, msg: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            await self.ws.send_text(orjson.dumps(msg).decode())
            self.metrics.count(self.metrics.frames_out, msg.get("t", "?"))
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed = True

    async def error(self, code: str, msg: str, ref: str | None = None) -> bool:
        """Answer a bad frame; returns False when the socket has used up its allowance and was closed."""
        self.metrics.count(self.metrics.errors, code)
        await self.send({"t": "error", "code": code, "msg": msg, "ref": ref})
        self.bad += 1
        if self.bad >= self.max_bad:
            await self.close(CLOSE_POLICY, "too many bad frames")
            return False
        return True

    async def close(self, code: int, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            try:
                await self.ws.close(code, reason)
            except (RuntimeError, OSError):
                pass

    async def receive_text(self) -> str | None:
        """The next text frame, or None when the socket is gone. Binary frames count as bad."""
        while True:
            msg = await self.ws.receive()
            if msg["type"] == "websocket.disconnect":
                self.closed = True
                return None
            text = msg.get("text")
            if text is not None:
                return str(text)
            if not await self.error("bad_message", "frames must be UTF-8 JSON text"):
                return None


def _refuse_reason(ws: WebSocket, live: Live) -> str | None:
    site = live.cfg.sites.get(ws.query_params.get("site", ""))
    if site is None:
        return "unknown_site"
    if ws.query_params.get("v", "1") != "1":
        return "version"
    if (ws.headers.get("origin") or "").rstrip("/") not in site.origins:
        return "origin"
    return None


async def widget_socket(ws: WebSocket) -> None:
    live: Live = ws.app.state.live
    reason = _refuse_reason(ws, live)
    if reason:
        live.metrics.rejected.labels(reason).inc()
        await ws.close(CLOSE_POLICY)  # before accept: the client gets HTTP 403
        return
    site = ws.query_params["site"]
    await ws.accept()
    conn = Conn(ws, live)
    live.metrics.connections.inc()
    sess: Session | None = None
    try:
        sess = await _handshake(conn, site)
        if sess is not None:
            await _read_loop(conn, sess)
    except WebSocketDisconnect:
        pass
    except StoreError as e:
        log.error("store unavailable, closing socket: %s", e)
        await conn.close(1011, "store unavailable")
    finally:
        conn.closed = True
        live.metrics.connections.dec()
        if sess is not None:
            live.bye(conn.id, sess)


async def _handshake(conn: Conn, site: str) -> Session | None:
    while True:
        try:
            text = await asyncio.wait_for(conn.receive_text(), HELLO_TIMEOUT)
        except TimeoutError:
            await conn.close(CLOSE_POLICY, "no hello")
            return None
        if text is None:
            return None
        conn.metrics.count(conn.metrics.frames_in, "hello")
        try:
            msg = p.parse(text)
        except p.BadMessage as e:
            if not await conn.error("bad_message", e.reason, e.ref):
                return None
            continue
        if not isinstance(msg, p.Hello):
            if not await conn.error("bad_message", "the first frame must be hello", getattr(msg, "id", None)):
                return None
            continue
        sess, resumed, msgs = await conn.live.hello(conn.id, site, msg, conn)
        armed = [m for m in msgs if m["t"] == "arm"]
        await conn.send({"t": "ready", "vid": sess.vid, "sid": sess.sid, "resumed": resumed,
                         "settings": widget_settings(conn.live.cfg, site), "armed": armed})
        for m in msgs:
            if m["t"] != "arm":
                await conn.send(m)
        return sess


async def _read_loop(conn: Conn, sess: Session) -> None:
    live = conn.live
    while True:
        text = await conn.receive_text()
        if text is None:
            return
        if not conn.bucket.take(live.clock()):
            if not await conn.error("rate_limited", "too many frames; slow down"):
                return
            continue
        try:
            msg = p.parse(text)
        except p.BadMessage as e:
            conn.metrics.count(conn.metrics.frames_in, "bad")
            if not await conn.error("bad_message", e.reason, e.ref):
                return
            continue
        conn.metrics.count(conn.metrics.frames_in, p.WIRE_TYPE[type(msg)])
        try:
            ack = await live.message(conn.id, sess, msg)
        except StoreError:
            await conn.error("unavailable", "could not store this message; it will be retried",
                             getattr(msg, "id", None))
            continue
        if ack is not None:
            await conn.send({"t": "ack", "id": ack})
