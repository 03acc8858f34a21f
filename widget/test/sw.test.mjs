// node --test widget/test/: static/sw.js, the push worker, with a fake worker scope: every push shows a
// notification inside waitUntil, and a click focuses an open tab (navigating it) or opens the link.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const SOURCE = readFileSync(new URL("../../static/sw.js", import.meta.url), "utf8");

function worker(windows = []) {
  const handlers = {}, shown = [], opened = [];
  const self = {
    location: { href: "https://linger.example/sw.js" },
    addEventListener: (name, fn) => { handlers[name] = fn; },
    registration: { showNotification: (title, options) => { shown.push({ title, options }); return Promise.resolve(); } },
    clients: {
      matchAll: () => Promise.resolve(windows),
      openWindow: (url) => { opened.push(url); return Promise.resolve({}); },
    },
  };
  new Function("self", "URL", SOURCE)(self, URL);
  return { handlers, shown, opened };
}

async function fire(handler, event) {
  const waits = [];
  handler({ ...event, waitUntil: (p) => waits.push(p) });
  assert.equal(waits.length, 1, "the work happens inside waitUntil");
  await Promise.all(waits);
}

test("a declarative payload becomes the notification, with at most two actions", async () => {
  const w = worker();
  const payload = { web_push: 8030, notification: { title: "Your cart", body: "Linen shirt", tag: "p1",
    navigate: "https://shop.example/f/c/t", image: "https://shop.example/i.png",
    actions: [{ action: "a", title: "View" }, { action: "b", title: "Later" }, { action: "c", title: "X" }] } };
  await fire(w.handlers.push, { data: { json: () => payload, text: () => JSON.stringify(payload) } });
  assert.equal(w.shown.length, 1);
  const { title, options } = w.shown[0];
  assert.equal(title, "Your cart");
  assert.equal(options.body, "Linen shirt");
  assert.equal(options.data.navigate, "https://shop.example/f/c/t");
  assert.equal(options.actions.length, 2);
});

test("anything else still shows a notification (never a silent push), and never a javascript: link", async () => {
  const w = worker();
  await fire(w.handlers.push, { data: { json: () => { throw new Error("not json"); }, text: () => "hello" } });
  const bad = { notification: { title: "t", navigate: "javascript:alert(1)" } };
  await fire(w.handlers.push, { data: { json: () => bad, text: () => "" } });
  assert.equal(w.shown.length, 2);
  assert.equal(w.shown[0].options.body, "hello");
  assert.equal(w.shown[1].options.data.navigate, null);
});

test("a click opens the link when no tab is open, and navigates an open tab after focusing it", async () => {
  const closed = [];
  const note = (navigate) => ({ close: () => closed.push(1), data: { navigate } });
  const lone = worker([]);
  await fire(lone.handlers.notificationclick, { notification: note("https://shop.example/f/c/t") });
  assert.deepEqual(lone.opened, ["https://shop.example/f/c/t"]);
  const visited = [];
  const tab = { focus: () => Promise.resolve(tab), navigate: (u) => { visited.push(u); return Promise.resolve(tab); } };
  const open = worker([tab]);
  await fire(open.handlers.notificationclick, { notification: note("https://shop.example/f/c/t") });
  assert.deepEqual(visited, ["https://shop.example/f/c/t"]);
  assert.deepEqual(open.opened, []);
  assert.equal(closed.length, 2);
});
