// The editor's live preview: what the form says, rendered by the widget's own popup module in two
// frames (desktop, and 375 px wide), updated as the merchant types. Nothing is saved from here.
(function () {
  "use strict";
  var form = document.querySelector("form.editor");
  var frames = Array.prototype.slice.call(document.querySelectorAll("iframe.preview"));
  var pick = document.getElementById("preview-variant");
  if (!form || !frames.length) return;

  function set(obj, path, value) {
    var parts = path.split("."), last = parts.pop();
    parts.forEach(function (p) { obj = obj[p] = obj[p] || {}; });
    obj[last] = value;
  }

  function variant(n) {
    var v = {}, prefix = "variants." + n + ".";
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name.indexOf(prefix) !== 0) return;
      var path = el.name.slice(prefix.length);
      var value = el.type === "checkbox" ? el.checked : el.value;
      if (value === "" || value === false) return;
      set(v, path, value);
    });
    var kind = form.elements.kind ? form.elements.kind.value : "custom";
    var style = v.style || {};
    if (style.width) style.width = +style.width;
    return { t: "popup", cid: "preview", var: v.id || "a", kind: kind, layout: v.layout || "modal",
             content: v.content || { headline: "" }, style: style };
  }

  function send() {
    var msg = variant(pick ? pick.value : 0);
    frames.forEach(function (f) { if (f.contentWindow) f.contentWindow.postMessage(msg, location.origin); });
  }

  var timer = null;
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(send, 150); });
  form.addEventListener("change", send);
  if (pick) pick.addEventListener("change", send);
  window.addEventListener("message", function (e) {
    if (e.origin === location.origin && e.data && e.data.t === "preview-ready") send();
  });
})();
