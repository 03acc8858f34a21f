// Page kinds, and the URL heuristics used when neither linger('page', {kind}) nor the page's
// <meta name="linger:kind"> says (pure: unit-tested under node, widget/test/kinds.test.mjs).
export var KINDS = ["home", "category", "product", "cart", "checkout", "thanks", "other"];

export function guessKind(path) {
  var p = path.toLowerCase();
  if (/\/(thank|order-received|order-confirmation|success)/.test(p)) return "thanks";
  if (/\/checkout/.test(p)) return "checkout";
  if (/\/(cart|basket|bag)(\/|$)/.test(p)) return "cart";
  if (/\/(p|product|products|item)\/[^/]+/.test(p)) return "product";
  if (/\/(c|category|categories|collections?|shop)(\/|$)/.test(p)) return "category";
  if (p === "/" || p === "" || /^\/(index\.html?|home|demo\/?)$/.test(p)) return "home";
  return "other";
}
