// node --test widget/test/: the VAPID key handling of widget/src/push.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { keyBytes, sameKey } from "../src/push.js";

test("keyBytes decodes base64url without padding, as applicationServerKey wants", () => {
  const b = keyBytes("BA-_");
  assert.deepEqual([...b], [0x04, 0x0f, 0xbf]);
  assert.equal(keyBytes("BNNL5ZaTfK81qhXOx23-wewhigUeFb632jN6LvRWCFH1ubQr77FE_9qV1FuojuRmHP42zmf34rXgW80OvUVDgTk").length, 65);
});

test("sameKey compares the subscription's key with the server's, byte for byte", () => {
  const k = keyBytes("BA-_");
  assert.ok(sameKey(k.buffer, keyBytes("BA-_")));
  assert.ok(!sameKey(k, keyBytes("BA-A")));
  assert.ok(!sameKey(null, k));
  assert.ok(!sameKey(k, keyBytes("BA-_AA")));
});
