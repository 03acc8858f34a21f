// What page is this: url, title, referrer and kind (meta tag, merchant override, or URL heuristics).
import { on, load, save } from "./util.js";
import { KINDS, guessKind } from "./kinds.js";
import { cleanPageUrl } from "./url.js";

var loadedAt = location.href;
var override = null; // {url, kind}: a merchant's linger('page', {kind}) for the URL it was made on
var KEEP = "linger.keep";
var keep = load(KEEP, []); // the site's keep_params from the last `ready`, so this page's hello can use them

export function setKeep(list) {
  keep = Array.isArray(list) ? list.filter(function (k) { return typeof k === "string"; }) : [];
  save(KEEP, keep);
}

export function setKind(kind) { override = KINDS.indexOf(kind) >= 0 ? { url: location.href, kind: kind } : null; }

export function current() {
  // The page's meta tag describes the document as loaded; after an SPA navigation it may be stale.
  var meta = location.href === loadedAt && document.querySelector('meta[name="linger:kind"]');
  var kind = override && override.url === location.href ? override.kind
    : meta && KINDS.indexOf(meta.content) >= 0 ? meta.content : guessKind(location.pathname);
  return {
    url: cleanPageUrl(location.href, keep),
    title: (document.title || "").slice(0, 512),
    ref: cleanPageUrl(document.referrer, keep),
    kind: kind,
  };
}

// Calls back whenever a single-page app changes the URL through the history API.
export function watchNavigation(cb) {
  var last = location.href;
  function check() {
    if (location.href !== last) { last = location.href; cb(); }
  }
  ["pushState", "replaceState"].forEach(function (name) {
    var orig = history[name];
    history[name] = function () {
      var r = orig.apply(this, arguments);
      try { check(); } catch (e) { /* never break the host's navigation */ }
      return r;
    };
  });
  on(window, "popstate", check);
  on(window, "hashchange", check);
}
