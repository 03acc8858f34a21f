// Tab nudges: while the tab is in the background, swap its title (optionally alternating every
// second) and every favicon link for a cart-count badge drawn on a canvas (a data: URL, so no cache
// gets in the way); chime where the browser allows audio. Everything comes back exactly, the very
// same link elements in the same places, when the tab is visible again.
import { guard, on } from "./util.js";

var SIZE = 32;

function badgeIcon(img, badge) {
  var c = document.createElement("canvas");
  c.width = c.height = SIZE;
  var g = c.getContext("2d");
  if (img) {
    g.drawImage(img, 0, 0, SIZE, SIZE);
  } else { // no usable favicon: a plain generated icon
    g.fillStyle = "#1f3b2d";
    g.beginPath();
    g.arc(SIZE / 2, SIZE / 2, SIZE / 2, 0, 2 * Math.PI);
    g.fill();
  }
  var r = badge.length > 1 ? 11 : 9;
  g.fillStyle = "#d64545";
  g.beginPath();
  g.arc(SIZE - r, r, r, 0, 2 * Math.PI);
  g.fill();
  g.fillStyle = "#ffffff";
  g.font = "bold " + (badge.length > 2 ? 10 : 14) + "px sans-serif";
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText(badge, SIZE - r, r + 1);
  return c.toDataURL("image/png"); // throws if a cross-origin favicon tainted the canvas
}

function chime() {
  var Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  var ctx = new Ctx();
  if (ctx.state !== "running") { ctx.close(); return; } // autoplay rules: no sound without a gesture
  var o = ctx.createOscillator(), v = ctx.createGain();
  o.frequency.value = 880;
  v.gain.setValueAtTime(0.08, ctx.currentTime);
  v.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.35);
  o.connect(v);
  v.connect(ctx.destination);
  o.start();
  o.stop(ctx.currentTime + 0.35);
  setTimeout(function () { ctx.close(); }, 600);
}

export function Nudger() {
  var saved = null; // {title, links: [{node, parent, next}], ours, timer}
  var self = this;

  self.restore = guard(function () {
    if (!saved) return;
    var s = saved;
    saved = null;
    clearInterval(s.timer);
    if (s.ours.parentNode) s.ours.parentNode.removeChild(s.ours);
    for (var i = s.links.length - 1; i >= 0; i--) { // backwards, so each `next` is back in place first
      var l = s.links[i];
      if (l.next && l.next.parentNode === l.parent) l.parent.insertBefore(l.node, l.next);
      else l.parent.appendChild(l.node);
    }
    document.title = s.title;
  });

  self.apply = guard(function (msg) {
    if (document.visibilityState !== "hidden") return;
    self.restore();
    var links = Array.prototype.slice.call(document.querySelectorAll('link[rel~="icon" i]'));
    var s = { title: document.title, links: [], ours: document.createElement("link"), timer: null };
    links.forEach(function (l) {
      s.links.push({ node: l, parent: l.parentNode, next: l.nextSibling });
    });
    links.forEach(function (l) { l.parentNode.removeChild(l); });
    var badge = String((msg.favicon && msg.favicon.badge) || "").slice(0, 3);
    s.ours.rel = "icon";
    s.ours.type = "image/png";
    s.ours.setAttribute("data-linger", "nudge");
    s.ours.href = badgeIcon(null, badge);
    (document.head || document.documentElement).appendChild(s.ours);
    saved = s;
    var first = links[0] && links[0].href;
    if (first && badge) { // the shop's own icon under the badge, when it can be drawn
      var img = new Image();
      img.onload = guard(function () { if (saved === s) s.ours.href = badgeIcon(img, badge); });
      img.src = first;
    }
    var titles = [String(msg.title || s.title).slice(0, 120)];
    if (msg.alt) titles.push(String(msg.alt).slice(0, 120));
    document.title = titles[0];
    if (titles.length > 1) {
      var n = 0;
      s.timer = setInterval(guard(function () { document.title = titles[++n % 2]; }), 1000);
    }
    if (msg.sound) { try { chime(); } catch (e) { /* no audio here */ } }
  });

  on(document, "visibilitychange", function () {
    if (document.visibilityState === "visible") self.restore();
  });
  on(window, "pagehide", function () { self.restore(); });
}
