// Web push: subscribe through the shop's one-line worker file (data-sw on the script tag, registered
// with a narrow scope of its own, data-sw-scope, default /linger/), only after a click on the soft
// prompt, never on load. While permission is granted, the subscription is kept current with the
// server's VAPID key: made with another key, it is replaced. The server learns it once per change.
import { guard, load, save, report } from "./util.js";

var SENT = "linger.push"; // endpoint|key last reported, so a page view does not resend it

export function keyBytes(b64) {
  var s = String(b64 || "").replace(/-/g, "+").replace(/_/g, "/");
  s += "====".slice(0, (4 - (s.length % 4)) % 4);
  var raw = atob(s), out = new Uint8Array(raw.length);
  for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

export function sameKey(a, b) {
  if (!a || !b) return false;
  a = new Uint8Array(a); b = new Uint8Array(b);
  if (a.length !== b.length) return false;
  for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function Push(script, sendDurable) {
  var sw = script.getAttribute("data-sw");
  var scope = script.getAttribute("data-sw-scope") || "/linger/";
  var self = this;
  self.supported = function () {
    return !!(sw && window.isSecureContext !== false && "serviceWorker" in navigator && "PushManager" in window &&
              window.Notification);
  };

  function report_(sub, key) {
    var json = sub.toJSON ? sub.toJSON() : sub;
    // said again once a month, so a server that dropped it (failures, expiry) learns it again
    var mark = json.endpoint + "|" + key + "|" + new Date().toISOString().slice(0, 7);
    if (load(SENT, "") === mark) return;
    sendDurable({ t: "push", sub: { endpoint: json.endpoint, expirationTime: json.expirationTime || null,
                                    keys: json.keys } });
    save(SENT, mark);
  }

  // Keep (or make) a subscription made with `key`, and tell the server.
  self.subscribe = function (key) {
    var want = keyBytes(key);
    return navigator.serviceWorker.register(sw, { scope: scope }).then(function (reg) {
      return reg.pushManager.getSubscription().then(function (sub) {
        if (sub && sameKey(sub.options && sub.options.applicationServerKey, want)) return sub;
        var gone = sub ? sub.unsubscribe().catch(function () {}) : Promise.resolve();
        return gone.then(function () {
          return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: want });
        });
      });
    }).then(function (sub) { report_(sub, key); return true; }).catch(function (e) { report(e); return false; });
  };

  // On every `ready`: keep a granted subscription current; say once that permission was denied.
  self.ready = guard(function (settings) {
    if (!self.supported() || !settings || !settings.vapid_key) return;
    if (Notification.permission === "granted") self.subscribe(settings.vapid_key);
    else if (Notification.permission === "denied" && load(SENT, "") !== "denied") {
      sendDurable({ t: "push", state: "denied" });
      save(SENT, "denied");
    }
  });

  // From the soft prompt's button (a user gesture): the browser's own prompt, then subscribe.
  self.ask = guard(function (key) {
    if (!self.supported() || !key) return;
    var asked = Notification.requestPermission();
    (asked && asked.then ? asked : Promise.resolve(Notification.permission)).then(function (perm) {
      if (perm === "granted") self.subscribe(key);
      else if (perm === "denied") { sendDurable({ t: "push", state: "denied" }); save(SENT, "denied"); }
    });
  });
}
