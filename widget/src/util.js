// Small helpers shared by the widget modules. Nothing here may throw into the host page.

export function guard(fn) {
  return function () {
    try { return fn.apply(this, arguments); } catch (e) { report(e); }
  };
}

export function report(e) {
  try { if (window.console && console.debug) console.debug("[linger]", e && e.message ? e.message : e); } catch (_) { /* ignore */ }
}

export function load(key, fallback) {
  try {
    var raw = window.localStorage.getItem(key);
    return raw == null ? fallback : JSON.parse(raw);
  } catch (e) { return fallback; }
}

export function save(key, value) {
  try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode or full */ }
}

export function newId() {
  var a = new Uint8Array(12);
  (window.crypto || window.msCrypto).getRandomValues(a);
  var s = "";
  for (var i = 0; i < a.length; i++) s += (a[i] % 36).toString(36);
  return Date.now().toString(36) + "-" + s;
}

export function now() { return Date.now(); }

export function on(target, type, fn, opts) {
  target.addEventListener(type, guard(fn), opts || { passive: true, capture: true });
}

// One rule for "looks like an address", for popup forms and live capture alike (the server checks again).
var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/;

export function isEmail(v) {
  return typeof v === "string" && v.length <= 254 && EMAIL.test(v);
}
