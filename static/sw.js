// Linger's push worker. The shop hosts a one-line file at its own origin,
//   importScripts("https://LINGER/sw.js");
// registered with a scope of its own (e.g. /linger/), so it never fights the shop's own worker; or the
// shop adds that line to the worker it already has. It is updated in place, never unregistered.
//
// Payloads use the Declarative Web Push shape {"web_push": 8030, "notification": {title, body, navigate,
// icon, image, actions, tag}}, which Safari 18.4+ shows without any worker; everywhere else this file
// shows the same notification. Every push shows one, inside waitUntil: Safari revokes subscriptions
// that receive silent pushes.
/* eslint-env serviceworker */
(function () {
  "use strict";

  function parse(event) {
    try {
      var data = event.data ? event.data.json() : null;
      if (data && data.notification && typeof data.notification.title === "string") return data.notification;
    } catch (e) { /* not JSON: fall through to a plain notification */ }
    return { title: "You have a message", body: event.data ? String(event.data.text()).slice(0, 200) : "" };
  }

  function safeUrl(u) {
    try {
      var url = new URL(u, self.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  }

  self.addEventListener("push", function (event) {
    var n = parse(event);
    var options = {
      body: typeof n.body === "string" ? n.body : "",
      tag: typeof n.tag === "string" ? n.tag : undefined,
      data: { navigate: safeUrl(n.navigate) },
      renotify: false,
    };
    if (typeof n.icon === "string") options.icon = n.icon;
    if (typeof n.image === "string") options.image = n.image;
    if (Array.isArray(n.actions)) {
      options.actions = n.actions.slice(0, 2).filter(function (a) { return a && typeof a.title === "string"; })
        .map(function (a) { return { action: String(a.action || "open"), title: a.title }; });
    }
    event.waitUntil(self.registration.showNotification(n.title, options));
  });

  self.addEventListener("notificationclick", function (event) {
    event.notification.close();
    var target = event.notification.data && event.notification.data.navigate;
    if (!target) return;
    // The link is Linger's tracked /f/c/ link: opening it reports the click and lands on the cart.
    event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        var c = list[i];
        if ("navigate" in c && "focus" in c) {
          return c.focus().then(function (w) { return (w || c).navigate(target); }).catch(function () {
            return self.clients.openWindow(target);
          });
        }
      }
      return self.clients.openWindow(target);
    }));
  });
})();
