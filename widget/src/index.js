// Linger storefront widget. One tag: <script async src="https://HOST/widget.js" data-site="KEY"></script>
// Merchants (and the demo shop) call window.linger(cmd, data); calls made before load wait in linger.q.
import { guard, load, save, report } from "./util.js";
import { Transport } from "./transport.js";
import { current, setKind, setKeep, watchNavigation } from "./page.js";
import { link } from "./url.js";
import { watchActivity, watchExit } from "./signals.js";
import { Popups } from "./popup.js";
import { watchEmails } from "./capture.js";
import { Nudger } from "./nudge.js";
import { Push } from "./push.js";

var VID = "linger.vid";
var SID = "linger.sid";

var start = guard(function () {
  var stub = window.linger;
  if (stub && stub.loaded) return;
  var script = document.currentScript || document.querySelector("script[data-site][src*='widget']");
  if (!script) return;
  var site = script.getAttribute("data-site");
  var host = new URL(script.src, location.href);
  var wsUrl = (host.protocol === "https:" ? "wss://" : "ws://") + host.host + "/ws?site=" +
    encodeURIComponent(site) + "&v=1";
  var settings = { act_every_ms: 5000, exit: { min_dwell_ms: 2000, sensitivity_px: 20, delay_ms: 100 } };
  var state = { loaded: true, connected: false, vid: load(VID, null), sid: load(SID, null), events: [],
                popup: null };

  // A merchant's "preview on my store" link (?linger_preview=TOKEN): kept for this tab only.
  function previewToken() {
    var t = null;
    try {
      t = new URLSearchParams(location.search).get("linger_preview");
      if (t) sessionStorage.setItem("linger.preview", t);
      else t = sessionStorage.getItem("linger.preview");
    } catch (e) { /* storage off: the token works on the page it came with */ }
    return t && /^[A-Za-z0-9_-]{16,64}$/.test(t) ? t : undefined;
  }

  function hello() {
    var pushState = "unsupported"; // also when the shop hosts no worker file (data-sw): no prompt then
    try { if (push.supported()) pushState = Notification.permission; } catch (e) { /* ignore */ }
    return {
      t: "hello", v: 1, vid: load(VID, null), sid: load(SID, null), page: current(),
      screen: { w: window.innerWidth || 0, h: window.innerHeight || 0,
                touch: "ontouchstart" in window || navigator.maxTouchPoints > 0 },
      lang: (navigator.language || "").slice(0, 35),
      tz: (Intl.DateTimeFormat().resolvedOptions().timeZone || "").slice(0, 64),
      gpc: navigator.globalPrivacyControl === true, push: pushState, preview: previewToken(),
    };
  }

  var nudger = new Nudger();
  var push = new Push(script, function (msg) { transport.sendDurable(msg); });
  var armed = null; // {how: [...], popup: {...}}: shown by the exit handler itself, no round trip
  var popups = new Popups(function (ev, p) {
    state.popup = popups.open();
    transport.sendDurable({ t: "popup", cid: p.cid, var: p.var, ev: ev });
  }, function (address, consent, p, wording) {
    transport.sendDurable({ t: "email", email: address, source: "popup", field: "popup:" + p.cid,
                            consent: !!consent, consent_text: String(wording || "").slice(0, 300),
                            submitted: true });
  }, function () { push.ask(settings.vapid_key); });

  function onMessage(msg) {
    state.events.push(msg.t);
    if (state.events.length > 50) state.events.shift();
    if (msg.t === "ready") {
      save(VID, msg.vid); save(SID, msg.sid);
      state.vid = msg.vid; state.sid = msg.sid; state.connected = true; state.resumed = msg.resumed;
      settings = msg.settings || settings;
      setKeep(settings.keep_params);
      push.ready(settings);
      armed = null;
      (msg.armed || []).forEach(onMessage);
    } else if (msg.t === "nudge") {
      nudger.apply(msg);
    } else if (msg.t === "popup") {
      if (/^preview-/.test(msg.cid)) popups.close(null, true); // a merchant's preview goes in front
      popups.show(msg);
    } else if (msg.t === "close") {
      popups.close(msg.cid, true);
      state.popup = popups.open();
    } else if (msg.t === "arm" && msg.popup) {
      armed = msg;
    } else if (msg.t === "disarm") {
      if (armed && armed.popup.cid === msg.cid) armed = null;
    } else if (msg.t === "_closed") {
      state.connected = false;
    } else if (msg.t === "error") {
      report("server: " + msg.code + " " + (msg.msg || ""));
    }
  }

  var transport = new Transport(wsUrl, hello, onMessage);
  var exit = null;

  // No currency: the field is left out and the server uses the site's (never "", never a guess).
  // A currency that is not a 3-letter code is left out (the site's is used) rather than losing the message.
  function withCurrency(msg, c) {
    c = String(c || "").trim().toUpperCase();
    if (/^[A-Z]{3}$/.test(c)) msg.currency = c;
    else if (c) report("currency " + c + " is not a 3-letter code: the site's currency is used");
    return msg;
  }

  // Item links the server would refuse (//host, /\host, javascript:, spaces) are left out, not the cart.
  function item(it) {
    var out = {};
    for (var k in it) if (Object.prototype.hasOwnProperty.call(it, k)) out[k] = it[k];
    ["url", "image"].forEach(function (k) { if (k in out && !link(out[k])) delete out[k]; });
    if (typeof out.id === "number") out.id = String(out.id); // shops often use numeric ids
    if (typeof out.price === "string" && out.price !== "" && isFinite(+out.price)) out.price = +out.price;
    if (typeof out.qty === "string" && /^\d+$/.test(out.qty)) out.qty = +out.qty;
    return out;
  }

  var commands = {
    cart: function (d) {
      if (d.items != null && !Array.isArray(d.items)) return report("cart: items must be a list");
      var items = (d.items || []).slice(0, 100).map(function (it) { return it && typeof it === "object" ? item(it) : it; });
      transport.send(withCurrency({ t: "cart", items: items, total: +d.total || 0 }, d.currency));
    },
    purchase: function (d) {
      transport.sendDurable(withCurrency({ t: "purchase", order: String(d.order || ""), total: +d.total || 0 },
                                         d.currency));
    },
    page: function (d) {
      if (d && d.kind) setKind(d.kind);
      transport.send({ t: "page", page: current() });
    },
  };

  var api = guard(function (cmd, data) {
    var fn = commands[cmd];
    if (fn) fn(data || {});
    else report("unknown command " + cmd);
  });
  api.loaded = true;
  api.state = state;
  // read-only: reconnects since a socket last stayed up (tests, and anyone debugging a shop)
  Object.defineProperty(state, "attempt", { enumerable: true, get: function () { return transport.attempt(); } });
  api.version = 1;
  window.linger = api;
  transport.start();
  (stub && stub.q ? stub.q : []).forEach(function (args) { api.apply(null, args); });

  watchEmails(function () { return settings; }, navigator.globalPrivacyControl === true, transport.sendDurable);
  var activity = watchActivity(function () { return settings; }, transport.send);
  watchNavigation(function () {
    transport.send({ t: "page", page: current() });
    activity.reset();
    if (exit) exit.reset();
  });
  exit = watchExit(function () { return settings; }, function (how) {
    // the armed popup first, synchronously: this is the instant the shopper is leaving
    if (armed && (armed.how || []).indexOf(how) >= 0 && !popups.open()) {
      var p = armed.popup;
      armed = null;
      popups.show(p);
    }
    transport.send({ t: "exit", how: how });
  });
});

start();
