// The socket: hello/ready, jittered exponential reconnect, and a localStorage outbox for
// messages with an id, kept until the server acks them (PROTOCOL.md).
import { guard, load, save, newId, report } from "./util.js";

var OUTBOX = "linger.outbox";
var MAX_OUTBOX = 50;

export function Transport(url, makeHello, onMessage) {
  var ws = null;
  var ready = false;
  var attempt = 0;
  var pending = {}; // latest not-yet-sent message per type (cart, page, vis) while offline
  var self = this;

  function outbox() { return load(OUTBOX, []); }

  function raw(msg) {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  function connect() {
    ready = false;
    try { ws = new WebSocket(url); } catch (e) { report(e); return retry(); }
    ws.onopen = guard(function () { raw(makeHello()); });
    ws.onmessage = guard(function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.t === "ready") {
        ready = true;
        attempt = 0;
        onMessage(msg);
        Object.keys(pending).forEach(function (t) { raw(pending[t]); });
        pending = {};
        outbox().forEach(raw);
        return;
      }
      if (msg.t === "ack") {
        save(OUTBOX, outbox().filter(function (m) { return m.id !== msg.id; }));
      }
      onMessage(msg);
    });
    ws.onclose = guard(function () { ws = null; ready = false; onMessage({ t: "_closed" }); retry(); });
  }

  function retry() {
    var base = Math.min(30000, 500 * Math.pow(2, attempt++));
    setTimeout(guard(connect), base * (0.5 + Math.random() * 0.5));
  }

  // Fire-and-forget signals: sent now if connected, else the latest per type waits for the next ready.
  self.send = function (msg) {
    if (ready && raw(msg)) return;
    if (msg.t !== "act") pending[msg.t] = msg;
  };

  // Messages that must not be lost: stored first, sent, resent after reconnects until acked.
  self.sendDurable = function (msg) {
    msg.id = msg.id || newId();
    var box = outbox();
    box.push(msg);
    save(OUTBOX, box.slice(-MAX_OUTBOX));
    if (ready) raw(msg);
    return msg.id;
  };

  self.connected = function () { return ready; };
  self.start = connect;
}
