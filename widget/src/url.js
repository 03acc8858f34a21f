// URLs that leave the browser, and links the widget puts on the page. Pure (no window at import),
// so widget/test can run it under node. The server applies the same rules again (server/core/urls.py);
// this is the half that keeps secrets in the browser in the first place.

var MAX_URL = 2048;
var BAD = /[\s\x00-\x1f\x7f\\]/;
// http(s)://host[:port] followed by the end, a path, a query or a fragment: no userinfo
var ABS = /^https?:\/\/([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?([/?#]|$)/;
// one slash, then anything but a second slash or a backslash (`//host` and `/\host` are other hosts)
var REL = /^\/(?![/\\])/;

// `u` if it is an http(s) URL or a path starting with exactly one slash, without whitespace,
// control characters, backslashes or userinfo; "" otherwise.
export function link(u) {
  return typeof u === "string" && u.length <= MAX_URL && !BAD.test(u) && (ABS.test(u) || REL.test(u)) ? u : "";
}

function decode(s) {
  try { return decodeURIComponent(s.replace(/\+/g, " ")); } catch (e) { return null; }
}

// A page URL as it may be reported: scheme, host, port and path, plus the utm_* parameters and the
// `keep` ones; no fragment, no userinfo, no other query parameter (reset tokens, order keys, OAuth
// codes). "" for anything that is not an http(s) URL.
export function cleanPageUrl(href, keep) {
  var u;
  try { u = new URL(String(href || "")); } catch (e) { return ""; }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "";
  var out = (u.protocol + "//" + u.host + (u.pathname || "/")).slice(0, MAX_URL);
  var kept = [];
  keep = Array.isArray(keep) ? keep : [];
  u.search.slice(1).split("&").forEach(function (pair) {
    var eq = pair.indexOf("=");
    var name = decode(eq < 0 ? pair : pair.slice(0, eq));
    var value = eq < 0 ? "" : decode(pair.slice(eq + 1));
    if (!name || value === null) return;
    if (name.indexOf("utm_") === 0 || keep.indexOf(name) >= 0) {
      kept.push(encodeURIComponent(name) + "=" + encodeURIComponent(value));
    }
  });
  if (kept.length && out.length + 1 + kept.join("&").length <= MAX_URL) out += "?" + kept.join("&");
  return link(out);
}
