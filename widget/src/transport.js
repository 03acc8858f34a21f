// The socket: hello/ready, jittered exponential reconnect, and a localStorage outbox for
// messages with an id, kept until the server acks them (PROTOCOL.md).
import { guard, newId, report } from "./util.js";

var OLD_OUTBOX = "linger.outbox"; // earlier widgets: one array under one key, rewritten by every tab
var PREFIX = "linger.ob.";
var MAX_OUTBOX = 50;
var STABLE_MS = 10000; // a socket up this long (after ready) resets the reconnect backoff

// Reconnect delay before attempt n (0, 1, 2...): 0.5 s doubling to 30 s, jittered down to half.
export function backoff(n, rand) {
  return Math.min(30000, 500 * Math.pow(2, Math.min(n, 16))) * (0.5 + rand * 0.5);
}

// JSON for the wire. A lone surrogate (a title cut inside an emoji) would make the server refuse the
// whole frame as invalid JSON, so it goes out as U+FFFD. JSON.stringify writes lone surrogates, and
// only those, as \udXXX; an even run of backslashes before it is an escaped backslash instead.
export function frame(msg) {
  return JSON.stringify(msg).replace(/(\\+)u(d[89a-f][0-9a-f]{2})/g, function (m, b) {
    return b.length % 2 ? b.slice(0, -1) + "\\ufffd" : m;
  });
}

// Messages kept until acked, each under its own key (linger.ob.<id>: {at, m}), so a tab adding or
// removing one never rewrites another tab's. Where storage fails, kept in memory for this page.
export function Outbox() {
  var mem = {};
  var seq = 0;
  var self = this;

  function ls() { return window.localStorage; }

  function put(rec) {
    try { ls().setItem(PREFIX + rec.m.id, JSON.stringify(rec)); delete mem[rec.m.id]; } catch (e) { mem[rec.m.id] = rec; }
  }

  // Oldest first.
  self.list = function () {
    var recs = {}, junk = [], id;
    for (id in mem) recs[id] = mem[id];
    try {
      var s = ls();
      for (var i = 0; i < s.length; i++) {
        var k = s.key(i);
        if (!k || k.indexOf(PREFIX) !== 0) continue;
        id = k.slice(PREFIX.length);
        var r = null;
        try { r = JSON.parse(s.getItem(k)); } catch (e) { /* junk */ }
        if (r && r.m && r.m.id === id && typeof r.at === "number") recs[id] = r;
        else junk.push(id);
      }
    } catch (e) { /* no storage */ }
    junk.forEach(self.drop);
    return Object.keys(recs).map(function (k) { return recs[k]; }).sort(function (a, b) {
      return a.at - b.at || (a.m.id < b.m.id ? -1 : 1);
    });
  };

  function trim() { // over the cap: the oldest go
    var all = self.list();
    for (var i = 0; i < all.length - MAX_OUTBOX; i++) self.drop(all[i].m.id);
  }

  self.add = function (msg) {
    seq = Math.max(Date.now(), seq + 1); // strictly increasing here, so resends keep this tab's order
    put({ at: seq, m: msg });
    trim();
  };

  self.drop = function (id) {
    delete mem[id];
    try { ls().removeItem(PREFIX + id); } catch (e) { /* no storage */ }
  };

  // The old single-key outbox, moved once into per-message keys.
  self.migrate = function () {
    try {
      var s = ls(), raw = s.getItem(OLD_OUTBOX);
      if (raw == null) return;
      var old = [];
      try { old = JSON.parse(raw); } catch (e) { /* junk */ }
      old = Array.isArray(old) ? old : [];
      var t = Date.now() - old.length;
      old.forEach(function (m, i) {
        if (m && typeof m.id === "string" && s.getItem(PREFIX + m.id) == null) put({ at: t + i, m: m });
      });
      if (s.getItem(OLD_OUTBOX) === raw) s.removeItem(OLD_OUTBOX);
      trim();
    } catch (e) { report(e); }
  };
}

export function Transport(url, makeHello, onMessage) {
  var ws = null;
  var ready = false;
  var attempt = 0; // reconnects since a socket last stayed up for STABLE_MS
  var stable = null;
  var resend = 0; // outbox resends since the last ack, after `unavailable` / `rate_limited`
  var again = null;
  var pending = {}; // latest not-yet-sent message per type (cart, page, vis) while offline
  var box = new Outbox();
  var self = this;

  function raw(msg) {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(frame(msg));
    return true;
  }

  function flush() { box.list().forEach(function (r) { raw(r.m); }); }

  // The server could not take a message now (or we sent too fast): the outbox goes again later,
  // on this socket, not only on the next one.
  function later() {
    if (again) return;
    again = setTimeout(guard(function () { again = null; if (ready) flush(); }), backoff(4 + resend++, Math.random()));
  }

  function connect() {
    ready = false;
    try { ws = new WebSocket(url); } catch (e) { report(e); return retry(); }
    ws.onopen = guard(function () { raw(makeHello()); });
    ws.onmessage = guard(function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.t === "ready") {
        ready = true;
        // not reset here: a socket the server closes right after ready must keep backing off
        clearTimeout(stable);
        stable = setTimeout(function () { attempt = 0; }, STABLE_MS);
        onMessage(msg);
        Object.keys(pending).forEach(function (t) { raw(pending[t]); });
        pending = {};
        flush();
        return;
      }
      if (msg.t === "ack") {
        box.drop(msg.id);
        resend = 0;
      } else if (msg.t === "error") {
        if (msg.code === "bad_message" && msg.ref) box.drop(msg.ref); // refused for good: resending never helps
        else if (msg.code === "unavailable" || msg.code === "rate_limited") later();
      }
      onMessage(msg);
    });
    ws.onclose = guard(function () {
      ws = null;
      ready = false;
      clearTimeout(stable);
      clearTimeout(again);
      again = null;
      onMessage({ t: "_closed" });
      retry();
    });
  }

  function retry() {
    setTimeout(guard(connect), backoff(attempt++, Math.random()));
  }

  // Fire-and-forget signals: sent now if connected, else the latest per type waits for the next ready.
  self.send = function (msg) {
    if (ready && raw(msg)) return;
    if (msg.t !== "act") pending[msg.t] = msg;
  };

  // Messages that must not be lost: stored first, sent, resent after reconnects until acked or refused.
  self.sendDurable = function (msg) {
    msg.id = msg.id || newId();
    box.add(msg);
    if (ready) raw(msg);
    return msg.id;
  };

  self.connected = function () { return ready; };
  self.attempt = function () { return attempt; };
  self.start = function () { box.migrate(); connect(); };
}
