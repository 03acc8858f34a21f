// node --test widget/test/: backoff, wire framing, the per-message outbox and the transport's
// reactions to ready / ack / error / close, against a fake WebSocket and localStorage.
import { test, mock, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";

class Storage {
  constructor() { this.m = new Map(); }
  get length() { return this.m.size; }
  key(i) { return [...this.m.keys()][i] ?? null; }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

class FakeSocket {
  static all = [];
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; FakeSocket.all.push(this); }
  send(s) { this.sent.push(JSON.parse(s)); }
  open() { this.readyState = 1; this.onopen(); }
  recv(msg) { this.onmessage({ data: JSON.stringify(msg) }); }
  close() { this.readyState = 3; this.onclose(); }
  static get last() { return FakeSocket.all[FakeSocket.all.length - 1]; }
}

globalThis.window = globalThis;
globalThis.console.debug = () => {};
const { backoff, frame, Outbox, Transport } = await import("../src/transport.js");

beforeEach(() => {
  globalThis.localStorage = new Storage();
  globalThis.WebSocket = FakeSocket;
  FakeSocket.all = [];
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_700_000_000_000 });
  mock.method(Math, "random", () => 1); // no jitter: the longest delay
});
afterEach(() => { mock.timers.reset(); mock.restoreAll(); });

const stored = () => [...localStorage.m.keys()].filter((k) => k.startsWith("linger.ob.")).sort();
const ids = (box) => box.list().map((r) => r.m.id);

function connected(messages = []) {
  const t = new Transport("ws://x/ws", () => ({ t: "hello" }), (m) => messages.push(m));
  t.start();
  const ws = FakeSocket.last;
  ws.open();
  ws.recv({ t: "ready", vid: "v", sid: "s", settings: {} });
  return { t, ws, messages };
}

test("backoff: 0.5 s doubling to 30 s, jittered down to half", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoff(n, 1)), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(backoff(0, 0), 250);
  assert.equal(backoff(3, 0.5), 3000);
  assert.equal(backoff(5000, 1), 30000);
});

test("frame: lone surrogates become U+FFFD, pairs and escaped backslashes stay", () => {
  const title = "Sale \ud83d\ude00".slice(0, 6); // cut inside the emoji
  assert.equal(JSON.parse(frame({ title })).title, "Sale \ufffd");
  assert.equal(JSON.parse(frame({ a: "ok \ud83d\ude00" })).a, "ok \ud83d\ude00");
  assert.equal(JSON.parse(frame({ a: "\\ud83d" })).a, "\\ud83d"); // six plain characters
  assert.equal(JSON.parse(frame({ a: "\\\ude00" })).a, "\\\ufffd"); // a backslash, then a lone low half
  assert.equal(frame({ a: "\ude00\ud83d" }), '{"a":"\\ufffd\\ufffd"}');
});

test("outbox: one key per message, listed oldest first", () => {
  const box = new Outbox();
  for (const id of ["c", "a", "b"]) box.add({ t: "purchase", id });
  assert.deepEqual(stored(), ["linger.ob.a", "linger.ob.b", "linger.ob.c"]);
  assert.deepEqual(ids(box), ["c", "a", "b"]); // the order they were added in, even within one millisecond
  box.drop("a");
  assert.deepEqual(ids(box), ["c", "b"]);
});

test("outbox: two tabs adding and removing never lose each other's messages", () => {
  const a = new Outbox(), b = new Outbox(); // the same localStorage, like two tabs
  a.add({ t: "purchase", id: "a1" });
  const seenByB = b.list(); // b read, then a wrote: a shared array would be overwritten here
  a.add({ t: "purchase", id: "a2" });
  b.add({ t: "email", id: "b1" });
  b.drop(seenByB[0].m.id);
  a.add({ t: "purchase", id: "a3" });
  assert.deepEqual(ids(a).sort(), ["a2", "a3", "b1"]); // between tabs, within one millisecond, any order
  assert.deepEqual(ids(b), ids(a));
});

test("outbox: at most 50, the oldest dropped", () => {
  const box = new Outbox();
  for (let i = 0; i < 55; i++) { box.add({ t: "popup", id: "m" + i }); mock.timers.tick(1); }
  assert.equal(box.list().length, 50);
  assert.equal(ids(box)[0], "m5");
});

test("outbox: junk under the prefix is cleared, not sent", () => {
  localStorage.setItem("linger.ob.x", "{not json");
  localStorage.setItem("linger.ob.y", JSON.stringify({ at: 1, m: { id: "other" } }));
  localStorage.setItem("linger.keep", "[]");
  assert.deepEqual(new Outbox().list(), []);
  assert.deepEqual([...localStorage.m.keys()], ["linger.keep"]);
});

test("outbox: without storage, messages are kept in memory for the page", () => {
  localStorage.setItem = () => { throw new Error("QuotaExceededError"); };
  const box = new Outbox();
  box.add({ t: "purchase", id: "p1" });
  assert.deepEqual(ids(box), ["p1"]);
  box.drop("p1");
  assert.deepEqual(ids(box), []);
});

test("outbox: the old single-key outbox is migrated once, before newer messages", () => {
  localStorage.setItem("linger.outbox", JSON.stringify([{ t: "purchase", id: "o1" }, { t: "email", id: "o2" }, { bad: 1 }]));
  const box = new Outbox();
  box.add({ t: "popup", id: "n1" });
  box.migrate();
  assert.equal(localStorage.getItem("linger.outbox"), null);
  assert.deepEqual(ids(box), ["o1", "o2", "n1"]);
  box.drop("o1");
  box.migrate(); // nothing left to move: o1 stays gone
  assert.deepEqual(ids(box), ["o2", "n1"]);
});

test("transport: the outbox goes out after ready; acks and bad_message refusals remove, others keep", () => {
  localStorage.setItem("linger.outbox", JSON.stringify([{ t: "purchase", id: "p1" }, { t: "purchase", id: "p2" },
                                                         { t: "purchase", id: "p3" }, { t: "purchase", id: "p4" }]));
  const { ws, messages } = connected();
  assert.deepEqual(ws.sent.map((m) => m.id || m.t), ["hello", "p1", "p2", "p3", "p4"]);
  ws.recv({ t: "ack", id: "p1" });
  ws.recv({ t: "error", code: "bad_message", msg: "no", ref: "p2" });
  ws.recv({ t: "error", code: "unavailable", msg: "later", ref: "p3" });
  ws.recv({ t: "error", code: "rate_limited", msg: "slow down", ref: null });
  ws.recv({ t: "error", code: "bad_message", msg: "not json", ref: null });
  assert.deepEqual(stored(), ["linger.ob.p3", "linger.ob.p4"]);
  assert.deepEqual(messages.map((m) => m.t), ["ready", "ack", "error", "error", "error", "error"]);
});

test("transport: after unavailable the outbox is sent again on the same socket, later", () => {
  const { t, ws } = connected();
  t.sendDurable({ t: "purchase", id: "p1", order: "o", total: 1 });
  ws.recv({ t: "error", code: "unavailable", msg: "later", ref: "p1" });
  ws.recv({ t: "error", code: "unavailable", msg: "later", ref: "p1" }); // one resend scheduled, not two
  const before = ws.sent.length;
  mock.timers.tick(7999);
  assert.equal(ws.sent.length, before);
  mock.timers.tick(1);
  assert.deepEqual(ws.sent.slice(before).map((m) => m.id), ["p1"]);
  ws.recv({ t: "ack", id: "p1" });
  assert.deepEqual(stored(), []);
});

test("transport: purchases without a socket wait in the outbox", () => {
  const t = new Transport("ws://x/ws", () => ({ t: "hello" }), () => {});
  t.start();
  const id = t.sendDurable({ t: "purchase", order: "o", total: 1 });
  assert.deepEqual(stored(), ["linger.ob." + id]);
  FakeSocket.last.open();
  FakeSocket.last.recv({ t: "ready", settings: {} });
  assert.deepEqual(FakeSocket.last.sent.map((m) => m.t), ["hello", "purchase"]);
});

test("transport: a socket closed right after ready keeps backing off", () => {
  const t = new Transport("ws://x/ws", () => ({ t: "hello" }), () => {});
  t.start();
  const delays = [];
  for (let i = 0; i < 8; i++) {
    const ws = FakeSocket.last;
    ws.open();
    ws.recv({ t: "ready", settings: {} });
    ws.close(); // the server hung up right away
    const n = FakeSocket.all.length;
    let waited = 0;
    while (FakeSocket.all.length === n) { mock.timers.tick(50); waited += 50; }
    delays.push(waited);
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(t.attempt(), 8);
});

test("transport: a socket that stays up 10 s resets the backoff", () => {
  const t = new Transport("ws://x/ws", () => ({ t: "hello" }), () => {});
  t.start();
  for (let i = 0; i < 3; i++) { // three quick hang-ups: attempt 3
    FakeSocket.last.open();
    FakeSocket.last.recv({ t: "ready", settings: {} });
    FakeSocket.last.close();
    mock.timers.tick(30000);
  }
  assert.equal(t.attempt(), 3);
  FakeSocket.last.open();
  FakeSocket.last.recv({ t: "ready", settings: {} });
  mock.timers.tick(9999);
  assert.equal(t.attempt(), 3);
  mock.timers.tick(1);
  assert.equal(t.attempt(), 0);
  FakeSocket.last.close();
  const n = FakeSocket.all.length;
  mock.timers.tick(499);
  assert.equal(FakeSocket.all.length, n);
  mock.timers.tick(1);
  assert.equal(FakeSocket.all.length, n + 1); // back to 0.5 s
});
