// Live email capture: watches email-like inputs (also ones added later, and inside same-origin
// iframes) and reports an address once it is valid, under the site's consent mode. The server
// applies the same rules again: this is the polite half, not the enforcing one.
import { guard, isEmail } from "./util.js";

var DEBOUNCE_MS = 700;

export function watchEmails(settings, gpc, send) {
  var sent = {};
  var timers = [];

  function cfg() { return settings().email || {}; }

  function isEmailField(el) {
    if (!el || el.tagName !== "INPUT") return false;
    if (el.type === "email" || /\bemail\b/i.test(el.getAttribute("autocomplete") || "")) return true;
    var sel = cfg().selectors || [];
    for (var i = 0; i < sel.length; i++) {
      try { if (el.matches(sel[i])) return true; } catch (e) { /* a bad selector from the config */ }
    }
    return false;
  }

  function consentOf(el) {
    var sel = cfg().consent_selector;
    var box = null;
    try { box = sel ? (el.form || el.ownerDocument).querySelector(sel) : null; } catch (e) { box = null; }
    if (!box) return { given: false, text: "" };
    var label = box.closest("label") || (box.id && el.ownerDocument.querySelector('label[for="' + box.id + '"]'));
    return { given: !!box.checked, text: label ? label.textContent.trim().slice(0, 300) : "" };
  }

  function check(el, submitted) {
    var mode = cfg().capture;
    if (!mode || mode === "off") return;
    var v = (el.value || "").trim();
    if (!isEmail(v)) return;
    var c = consentOf(el);
    if (!submitted && (gpc || (mode === "consent" && !c.given))) return;
    var key = v.toLowerCase() + "|" + c.given + "|" + !!submitted;
    if (sent[key]) return;
    sent[key] = 1;
    send({ t: "email", email: v, source: "field", field: (el.name || el.id || "email").slice(0, 128),
           consent: c.given, consent_text: c.text, submitted: !!submitted });
  }

  function later(el) {
    for (var i = 0; i < timers.length; i++) if (timers[i].el === el) clearTimeout(timers[i].t);
    timers = timers.filter(function (x) { return x.el !== el; });
    timers.push({ el: el, t: setTimeout(guard(function () { check(el, false); }), DEBOUNCE_MS) });
  }

  function emailFieldsOf(form) {
    return Array.prototype.filter.call(form.querySelectorAll("input"), isEmailField);
  }

  function attach(doc) {
    if (!doc || doc.__lingerCapture) return;
    doc.__lingerCapture = true;
    // delegated, so inputs added to the page later are watched too
    doc.addEventListener("input", guard(function (e) { if (isEmailField(e.target)) later(e.target); }), true);
    doc.addEventListener("focusout", guard(function (e) { if (isEmailField(e.target)) check(e.target, false); }), true);
    doc.addEventListener("change", guard(function (e) {
      var t = e.target;
      if (isEmailField(t)) check(t, false);
      else if (t && t.type === "checkbox") (t.form ? emailFieldsOf(t.form) : []).forEach(function (f) { check(f, false); });
    }), true);
    doc.addEventListener("submit", guard(function (e) {
      if (e.target && e.target.querySelectorAll) emailFieldsOf(e.target).forEach(function (f) { check(f, true); });
    }), true);
  }

  function frames() {
    var list = document.querySelectorAll("iframe");
    for (var i = 0; i < list.length; i++) {
      try { attach(list[i].contentDocument); } catch (e) { /* cross-origin: not reachable */ }
    }
  }

  attach(document);
  frames();
  document.addEventListener("load", guard(function (e) {
    if (e.target && e.target.tagName === "IFRAME") { try { attach(e.target.contentDocument); } catch (x) { /* */ } }
  }), true);
}
