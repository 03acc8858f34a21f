// Raw shopper signals: throttled activity, tab visibility, exit intent (desktop mouse through the
// top as in ouibounce; mobile fast scroll-up, back button, window blur). The server decides.
import { on, now, guard } from "./util.js";

export function watchActivity(settings, send) {
  var last = 0;
  var depth = 0; // deepest scroll on this page, percent (PROTOCOL extension: act.depth)
  function act() {
    var d = document.documentElement;
    var h = Math.max(d.scrollHeight, 1);
    depth = Math.max(depth, Math.min(100, Math.round(((window.scrollY || 0) + window.innerHeight) / h * 100)));
    var t = now(), every = settings().act_every_ms;
    if (t - last >= every) { last = t; send({ t: "act", depth: depth }); }
    else if (!trailing) trailing = setTimeout(guard(function () { trailing = null; act(); }), last + every - t);
  }
  var trailing = null; // so the last scroll of a burst is reported too, one interval later
  ["mousemove", "mousedown", "keydown", "scroll", "touchstart", "wheel", "input"].forEach(function (type) {
    on(document, type, act);
  });
  on(document, "visibilitychange", function () {
    send({ t: "vis", state: document.visibilityState === "hidden" ? "hidden" : "visible" });
  });
  return { reset: function () { depth = 0; last = 0; } };
}

export function watchExit(settings, fire) {
  var start = now();
  var timer = null;
  var done = {};
  var touch = "ontouchstart" in window || navigator.maxTouchPoints > 0;

  function cfg() { return settings().exit || {}; }
  function dwelled() { return now() - start >= (cfg().min_dwell_ms || 0); }
  function emit(how) {
    if (done[how] || !dwelled()) return;
    done[how] = true;
    fire(how);
  }

  // Desktop: the pointer leaves the page through its top edge, after a grace delay.
  var root = document.documentElement;
  // not capturing: a capture listener would also see every child element's mouseleave
  on(root, "mouseleave", function (e) {
    if (e.target !== root || e.clientY > (cfg().sensitivity_px || 0) || timer) return;
    var delay = cfg().delay_ms || 0;
    if (!delay) return emit("mouse"); // no grace period: fire in this very event, not a task later
    timer = setTimeout(guard(function () { timer = null; emit("mouse"); }), delay);
  }, { passive: true });
  on(root, "mouseenter", function (e) {
    if (e.target === root && timer) { clearTimeout(timer); timer = null; }
  }, { passive: true });

  if (!touch) return { reset: reset };

  // Mobile: a fast flick back up the page.
  var lastY = window.scrollY, lastT = now();
  on(window, "scroll", function () {
    var y = window.scrollY, t = now();
    var speed = (lastY - y) / Math.max(1, t - lastT);
    if (speed > (cfg().scroll_speed || 1.5) && y > 0) emit("scroll");
    lastY = y; lastT = t;
  });

  // Mobile: switching apps.
  on(window, "blur", function () {
    if (cfg().blur && !(document.activeElement && document.activeElement.tagName === "IFRAME")) emit("blur");
  });

  // Mobile: the back button. One extra history entry for this URL; popping it is the exit signal.
  var trapped = false;
  (function armTrap() {
    // settings arrive with `ready`, so the remaining dwell is re-read rather than fixed at load
    var wait = (cfg().min_dwell_ms || 0) - (now() - start);
    if (wait > 0) return setTimeout(guard(armTrap), Math.min(wait, 250));
    if (!cfg().back || trapped) return;
    trapped = true;
    history.pushState({ lingerTrap: 1 }, "", location.href);
  })();
  on(window, "popstate", function (e) {
    if (trapped && !(e.state && e.state.lingerTrap)) { trapped = false; emit("back"); }
  });

  function reset() { start = now(); done = {}; }
  return { reset: reset };
}
