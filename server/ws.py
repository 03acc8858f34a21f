"""The widget socket (/ws): handshake checks, read loop, feed the core, answer.

Reads like websockets' data_received: receive, parse, admit, feed, send what is due. Everything
sent to one socket goes through one ordered queue (`Conn.push`), so a popup decided while an ack
is on its way can never overtake it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import deque
from typing import Any

import orjson
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from .core import protocol as p
from .core import wire
from .core.admit import admit
from .core.ratelimit import TokenBucket
from .core.session import Session
from .core.wire import Outbound
from .live import Live, Refused
from .store import StoreError

log = logging.getLogger("linger.ws")

HELLO_TIMEOUT = 10.0
CLOSE_POLICY = 1008
MAX_QUEUED = 256  # messages waiting for a socket that does not read; beyond it, the socket is closed


def widget_settings(cfg: Any, site: str, vapid_key: str = "") -> dict[str, Any]:
    """What the widget needs to know, sent in `ready`."""
    conf = cfg.sites[site]
    return {
        "act_every_ms": cfg.timing.act_every_ms,
        "idle_after_ms": cfg.timing.idle_after_ms,
        "exit": {
            "sensitivity_px": cfg.exit.sensitivity_px, "min_dwell_ms": cfg.exit.min_dwell_ms,
            "delay_ms": cfg.exit.delay_ms, "scroll_speed": cfg.exit.scroll_speed,
            "back": cfg.exit.back, "blur": cfg.exit.blur,
        },
        "email": {"capture": conf.capture, "selectors": list(conf.email_selectors),
                  "consent_selector": conf.consent_selector},
        "keep_params": list(conf.keep_query_params),
        "vapid_key": vapid_key or None,
    }


class Conn:
    __slots__ = ("ws", "live", "metrics", "id", "ip", "bucket", "bad", "max_bad", "closed", "_out", "_busy",
                 "_drainer")

    def __init__(self, ws: WebSocket, live: Live, ip: str = "") -> None:
        self.ws = ws
        self.ip = ip
        self.live = live
        self.metrics = live.metrics
        self.id = live.new_conn_id()
        lim = live.cfg
        self.bucket = TokenBucket(rate=lim.limits.frames_per_second, burst=lim.limits.frame_burst)
        self.bad = 0
        self.max_bad = lim.limits.max_bad_frames
        self.closed = False
        self._out: deque[Outbound] | None = None
        self._busy = False
        self._drainer: asyncio.Task[None] | None = None

    def push(self, msg: Outbound) -> None:
        """Queue a message for this socket; messages leave in the order they were queued."""
        if self.closed:
            return
        if self._out is None:
            self._out = deque()
        if len(self._out) >= MAX_QUEUED:
            log.warning("socket %s does not read its messages: closing it", self.id)
            self.closed = True
            self._drainer = asyncio.get_running_loop().create_task(self._hang_up())
            return
        self._out.append(msg)
        if not self._busy:
            self._busy = True
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def send(self, msg: Outbound) -> None:
        """From the socket's own task: queue a message and see the queue out before reading on
        (sent inline when nothing else is sending, without a task)."""
        if self.closed:
            return
        if self._busy:
            self.push(msg)
            if self._drainer is not None and not self._drainer.done():
                await asyncio.shield(self._drainer)
            return
        if self._out is None:
            self._out = deque()
        self._out.append(msg)
        self._busy = True
        await self._drain()

    async def _drain(self) -> None:
        try:
            while self._out and not self.closed:
                msg = self._out.popleft()
                await self.ws.send_text(orjson.dumps(msg).decode())
                self.metrics.count(self.metrics.frames_out, msg.t)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed = True
        finally:
            self._busy = False
            self._out = None if not self._out else self._out

    async def _hang_up(self) -> None:
        try:
            await self.ws.close(CLOSE_POLICY, "not reading")
        except (RuntimeError, OSError):
            pass

    async def error(self, code: str, msg: str, ref: str | None = None) -> bool:
        """Answer a bad frame; returns False when the socket has used up its allowance and was closed."""
        self.metrics.count(self.metrics.errors, code)
        await self.send(wire.Error(code, msg, ref))
        if code == "unavailable":
            return True  # the server's trouble, not the client's
        self.bad += 1
        if self.bad >= self.max_bad:
            await self.close(CLOSE_POLICY, "too many bad frames")
            return False
        return True

    async def close(self, code: int, reason: str = "") -> None:
        if self._busy and self._drainer is not None and not self._drainer.done():
            await asyncio.shield(self._drainer)  # what was queued (say, the last error) goes first
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


def client_ip(ws: HTTPConnection) -> str:
    """The client address that per-address limits count (uvicorn takes it from X-Forwarded-For only
    for server.forwarded_allow_ips). IPv6 clients count per /64: one host usually holds a whole one."""
    host = ws.client.host if ws.client else ""
    if ":" in host:
        try:
            mapped = ipaddress.IPv6Address(host).ipv4_mapped  # ::ffff:a.b.c.d is an IPv4 shopper
            return str(mapped) if mapped else str(ipaddress.IPv6Network(f"{host}/64", strict=False))
        except ValueError:
            return host
    return host


def _refuse_reason(ws: WebSocket, live: Live) -> str | None:
    site = live.cfg.sites.get(ws.query_params.get("site", ""))
    if site is None:
        return "unknown_site"
    if ws.query_params.get("v", "1") != "1":
        return "version"
    if (ws.headers.get("origin") or "").rstrip("/").lower() not in site.origins:
        return "origin"
    return None


async def widget_socket(ws: WebSocket) -> None:
    live: Live = ws.app.state.live
    reason = _refuse_reason(ws, live)
    if reason:
        live.metrics.rejected.labels(reason).inc()
        await ws.close(CLOSE_POLICY)  # before accept: the client gets HTTP 403
        return
    ip = client_ip(ws)
    if not live.limits.open_socket(ip):
        live.metrics.rejected.labels("sockets_per_ip").inc()
        await ws.send_denial_response(JSONResponse(
            {"error": {"code": "rate_limited", "msg": "too many open sockets from this address"}}, 429))
        return
    try:
        await _serve(ws, live, ip)
    finally:
        live.limits.close_socket(ip)


async def _serve(ws: WebSocket, live: Live, ip: str) -> None:
    site = ws.query_params["site"]
    await ws.accept()
    conn = Conn(ws, live, ip)
    live.metrics.connections.inc()
    sess: Session | None = None
    try:
        sess = await _handshake(conn, site, ip)
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


async def _handshake(conn: Conn, site: str, ip: str) -> Session | None:
    live = conn.live
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
            if not isinstance(msg, p.Hello):
                raise p.BadMessage("the first frame must be hello", getattr(msg, "id", None))
            msg = admit(msg, live.policies[site])
        except p.BadMessage as e:
            if not await conn.error("bad_message", e.reason, e.ref):
                return None
            continue
        assert isinstance(msg, p.Hello)
        try:
            sess, resumed, msgs = await live.hello(conn.id, site, msg, conn, ip)
        except Refused as e:
            await conn.error(e.code, e.msg)
            await conn.close(CLOSE_POLICY, e.code)
            return None
        settings = widget_settings(live.cfg, site, live.vapid_public)
        conn.push(wire.Ready(vid=sess.vid, sid=sess.sid, resumed=resumed, settings=settings,
                             armed=tuple(m for m in msgs if isinstance(m, wire.Arm))))
        for m in msgs:
            if not isinstance(m, wire.Arm):
                conn.push(m)
        if msg.preview:  # a merchant previewing a draft on their own store: to this browser only
            from .services.campaigns import preview_popup

            shown = await preview_popup(live, site, msg.preview)
            if shown is not None:
                conn.push(shown)
        return sess


async def _read_loop(conn: Conn, sess: Session) -> None:
    live = conn.live
    policy = live.policies[sess.site]
    while True:
        text = await conn.receive_text()
        if text is None:
            return
        if not conn.bucket.take(live.clock()):
            if not await conn.error("rate_limited", "too many frames; slow down", p.frame_id(text)):
                return
            continue
        try:
            msg = admit(p.parse(text), policy)
        except p.BadMessage as e:
            conn.metrics.count(conn.metrics.frames_in, "bad")
            if not await conn.error("bad_message", e.reason, e.ref):
                return
            continue
        conn.metrics.count(conn.metrics.frames_in, p.WIRE_TYPE[type(msg)])
        mid = getattr(msg, "id", None)
        try:
            ack = await live.message(conn.id, sess, msg, conn.ip)
        except Refused as e:
            if not await conn.error(e.code, e.msg, mid):
                return
            continue
        except StoreError:
            await conn.error("unavailable", "could not store this message; keep it and send it again", mid)
            continue
        if ack is not None:
            await conn.send(wire.Ack(ack))
