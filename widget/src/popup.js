// Popups (modal, slide-in, bar) inside a Shadow DOM host: the shop's CSS cannot reach in and ours
// cannot leak out. Merchant text goes in with textContent and attributes only, never as HTML.
// Accessible: role=dialog, labelled, focus trapped (modal) and restored, Esc and backdrop close.
import { guard, isEmail } from "./util.js";
import { link } from "./url.js";

var CSS =
  ":host{all:initial}" +
  ".lg{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;line-height:1.45;color:var(--fg)}" +
  ".bd{position:fixed;top:0;left:0;right:0;bottom:0;background:rgba(0,0,0,.45);z-index:2147483646}" +
  ".box{position:fixed;z-index:2147483647;box-sizing:border-box;background:var(--bg);color:var(--fg);" +
  "border-radius:12px;box-shadow:0 12px 40px rgba(0,0,0,.25);padding:28px 24px 20px;width:var(--w);" +
  "max-width:calc(100vw - 32px);max-height:calc(100vh - 32px);overflow:auto;text-align:left}" +
  ".modal .box{top:50%;left:50%;transform:translate(-50%,-50%)}" +
  ".modal.top .box{top:16px;transform:translateX(-50%)}" +
  ".slide .box{bottom:16px;right:16px}.slide.bottom-left .box{right:auto;left:16px}" +
  ".slide.top .box{bottom:auto;top:16px}" +
  ".bar .box{left:0;right:0;bottom:0;width:auto;max-width:none;border-radius:0;padding:10px 48px 10px 16px;" +
  "display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;justify-content:center}" +
  ".bar.top .box{bottom:auto;top:0}" +
  "h2{margin:0 0 8px;font-size:22px;line-height:1.25;font-weight:700;color:inherit}" +
  ".bar h2{font-size:15px;margin:0}.bar p,.bar .code,.bar form{margin:0}" +
  "p{margin:0 0 12px}" +
  "img{display:block;max-width:100%;height:auto;border-radius:8px;margin:0 0 12px}" +
  ".x{position:absolute;top:6px;right:6px;width:32px;height:32px;border:0;border-radius:16px;background:transparent;" +
  "color:inherit;font-size:22px;line-height:32px;cursor:pointer;padding:0}" +
  ".code{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:0 0 12px}" +
  ".code span{font:700 18px/1 ui-monospace,Menlo,monospace;letter-spacing:2px;border:2px dashed var(--accent);" +
  "padding:8px 12px;border-radius:6px}" +
  ".btn{display:inline-block;background:var(--accent);color:var(--on-accent);border:0;border-radius:8px;padding:10px 16px;" +
  "font-family:inherit;font-size:15px;font-weight:600;line-height:1.2;text-decoration:none;cursor:pointer}" +
  "input[type=email]{box-sizing:border-box;width:100%;padding:10px;border:1px solid #b9b9b9;border-radius:8px;" +
  "font-family:inherit;font-size:15px;margin:0 0 8px;color:#111;background:#fff}" +
  "label{display:flex;gap:8px;align-items:flex-start;font-size:13px;margin:0 0 12px}" +
  ".err{color:#b02a2a;font-size:13px;margin:0 0 8px}" +
  ".row{display:flex;gap:8px;flex-wrap:wrap}.ghost{background:transparent;color:var(--fg);box-shadow:inset 0 0 0 1px #b9b9b9}" +
  ":focus-visible{outline:3px solid var(--accent);outline-offset:2px}";

var COLOR = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;

// WCAG relative luminance of #rgb / #rrggbb, and the text colour (white or near-black) with more contrast on it
export function luminance(hex) {
  var h = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, function (c) { return c + c; }).slice(1) : hex.slice(1);
  var c = [0, 2, 4].map(function (i) {
    var v = parseInt(h.slice(i, i + 2), 16) / 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

export function onColor(hex) {
  var l = luminance(hex);
  return (1.05) / (l + 0.05) >= (l + 0.05) / (0.0137 + 0.05) ? "#ffffff" : "#111111";
}
var sheet = null;

// http(s) or a path with one leading slash; never `//host` or `/\host` (other hosts to a browser)
var safeUrl = link;

function el(tag, attrs, text) {
  var e = document.createElement(tag);
  for (var k in attrs) if (attrs[k] != null) e.setAttribute(k, attrs[k]);
  if (text != null) e.textContent = String(text);
  return e;
}

function adopt(root) {
  try {
    if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.appendChild(el("style", {}, CSS)); // browsers without constructable stylesheets
  }
}

// report(ev, popup) for shown/closed/clicked/submitted; email(address, consent, popup, wording) for the form;
// allow() for a push_prompt's button (the browser's own permission prompt comes only from that click);
// quiet: never move focus (the admin's preview, drawn while the merchant types)
export function Popups(report, email, allow, quiet) {
  var cur = null;
  var self = this;

  self.open = function () { return cur ? { cid: cur.p.cid, var: cur.p.var } : null; };

  self.close = guard(function (cid, silent) {
    if (!cur || (cid && cur.p.cid !== cid)) return;
    var c = cur;
    cur = null;
    document.removeEventListener("keydown", c.keys, true);
    if (c.host.parentNode) c.host.parentNode.removeChild(c.host);
    if (!silent) report("closed", c.p);
    try { if (c.restore && c.restore.focus) c.restore.focus(); } catch (e) { /* gone */ }
  });

  self.show = guard(function (p) {
    if (cur || !p || !p.cid || !p.content) return false;
    var content = p.content, style = p.style || {};
    var layout = ["modal", "slide", "bar"].indexOf(p.layout) >= 0 ? p.layout : "modal";
    var modal = layout === "modal";
    var host = el("linger-popup", { "data-cid": p.cid });
    // inline !important beats any page rule, so the shop's CSS cannot hide or restyle the host;
    // set through the CSSOM, which a strict CSP allows (a style attribute it would block)
    host.style.setProperty("all", "initial", "important");
    host.style.setProperty("display", "block", "important");
    var root = host.attachShadow({ mode: "open" });
    adopt(root);
    var wrap = el("div", { class: "lg " + layout + " " + String(style.placement || "").replace(/[^a-z-]/g, "") });
    var box = el("div", { class: "box", role: "dialog", "aria-modal": modal ? "true" : "false",
                          "aria-labelledby": "lg-h", "data-kind": p.kind });
    box.style.setProperty("--bg", COLOR.test(style.bg) ? style.bg : "#ffffff");
    box.style.setProperty("--fg", COLOR.test(style.fg) ? style.fg : "#1d2320");
    var accent = COLOR.test(style.accent) ? style.accent : "#1f3b2d";
    box.style.setProperty("--accent", accent);
    box.style.setProperty("--on-accent", onColor(accent)); // button text readable on any accent
    box.style.setProperty("--w", Math.max(200, Math.min(1200, +style.width || 420)) + "px");

    var x = el("button", { class: "x", type: "button", "aria-label": "Close" }, "\u00d7");
    x.addEventListener("click", function () { self.close(); });
    box.appendChild(x);
    if (safeUrl(content.image)) box.appendChild(el("img", { src: safeUrl(content.image), alt: "" }));
    box.appendChild(el("h2", { id: "lg-h" }, content.headline || ""));
    if (content.body) box.appendChild(el("p", {}, content.body));
    if (content.code) {
      var code = el("div", { class: "code" });
      code.appendChild(el("span", {}, content.code));
      var copy = el("button", { class: "btn", type: "button" }, "Copy code");
      copy.addEventListener("click", guard(function () {
        if (navigator.clipboard) navigator.clipboard.writeText(content.code).catch(function () {});
        copy.textContent = "Copied";
      }));
      code.appendChild(copy);
      box.appendChild(code);
    }
    if (content.cta && safeUrl(content.cta.url)) {
      var cta = el("a", { class: "btn cta", href: safeUrl(content.cta.url) }, content.cta.label);
      cta.addEventListener("click", function () { report("clicked", p); });
      box.appendChild(cta);
    }
    if (content.form && content.form.email) box.appendChild(form(p, content.form));
    if (p.kind === "push_prompt" && allow) {
      var row = el("div", { class: "row" });
      var yes = el("button", { class: "btn", type: "button" }, content.button || "Turn on notifications");
      yes.addEventListener("click", guard(function () { report("clicked", p); allow(); self.close(); }));
      var later = el("button", { class: "btn ghost", type: "button" }, content.later || "Not now");
      later.addEventListener("click", guard(function () { self.close(); }));
      row.appendChild(yes);
      row.appendChild(later);
      box.appendChild(row);
    }

    if (modal) {
      var bd = el("div", { class: "bd" });
      bd.addEventListener("click", function () { self.close(); });
      wrap.appendChild(bd);
    }
    wrap.appendChild(box);
    root.appendChild(wrap);

    var keys = guard(function (e) {
      if (e.key === "Escape") { e.stopPropagation(); self.close(); return; }
      if (e.key !== "Tab" || !modal) return;
      var f = box.querySelectorAll("button,a[href],input,select,textarea");
      if (!f.length) return;
      var first = f[0], last = f[f.length - 1], active = root.activeElement;
      if (e.shiftKey && (active === first || !active)) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (active === last || !active)) { e.preventDefault(); first.focus(); }
    });
    cur = { p: p, host: host, keys: keys, restore: document.activeElement };
    document.addEventListener("keydown", keys, true);
    (document.body || document.documentElement).appendChild(host);
    var focus = box.querySelector("input[type=email]") || x;
    if ((modal || layout === "slide") && !quiet) focus.focus({ preventScroll: true }); // quiet: a preview never takes focus
    report("shown", p);
    return true;
  });

  function form(p, f) {
    var fm = el("form", { novalidate: "" });
    var input = el("input", { type: "email", name: "email", autocomplete: "email", required: "",
                              placeholder: "you@example.com", "aria-label": "Email address" });
    fm.appendChild(input);
    var consent = null;
    if (f.consent_label) {
      var lab = el("label");
      consent = el("input", { type: "checkbox", name: "consent" });
      lab.appendChild(consent);
      lab.appendChild(el("span", {}, f.consent_label));
      fm.appendChild(lab);
    }
    var err = el("p", { class: "err", role: "alert" });
    fm.appendChild(err);
    fm.appendChild(el("button", { class: "btn", type: "submit" }, f.button || "Subscribe"));
    fm.addEventListener("submit", guard(function (e) {
      e.preventDefault();
      var v = input.value.trim();
      if (!isEmail(v)) { err.textContent = "Please enter a valid email address."; return; }
      email(v, consent ? consent.checked : false, p, consent ? f.consent_label : "");
      report("submitted", p);
      fm.textContent = "";
      fm.appendChild(el("p", { role: "status" }, "Thank you! Check your inbox."));
    }));
    return fm;
  }
}
