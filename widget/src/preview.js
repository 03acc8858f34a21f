// The admin editor's live preview: the widget's own popup module (not a copy), rendering whatever
// popup the editor page posts (same origin only). Bundled separately into static/admin/preview.js.
import { Popups } from "./popup.js";

var popups = new Popups(function () {}, function () {}, function () {}, true);
window.addEventListener("message", function (e) {
  if (e.origin !== location.origin || !e.data || e.data.t !== "popup") return;
  popups.close(null, true);
  popups.show(e.data);
});
window.parent.postMessage({ t: "preview-ready" }, location.origin);
