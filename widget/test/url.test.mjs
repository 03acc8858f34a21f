// node --test widget/test/: the pure URL rules of widget/src/url.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanPageUrl, link } from "../src/url.js";

test("page URLs keep scheme, host, port, path and utm_* only", () => {
  assert.equal(cleanPageUrl("https://shop.example/account/reset?token=abc&utm_source=news#x"),
               "https://shop.example/account/reset?utm_source=news");
  assert.equal(cleanPageUrl("https://shop.example/checkout/order-received/12?key=wc_order_abc"),
               "https://shop.example/checkout/order-received/12");
  assert.equal(cleanPageUrl("http://127.0.0.1:8080/demo?token=secret&utm_source=x#frag"),
               "http://127.0.0.1:8080/demo?utm_source=x");
  assert.equal(cleanPageUrl("https://shop.example"), "https://shop.example/");
  assert.equal(cleanPageUrl("https://shop.example/p?#"), "https://shop.example/p");
});

test("userinfo never survives", () => {
  assert.equal(cleanPageUrl("https://ada:hunter2@shop.example:8443/p/1?code=oauth"), "https://shop.example:8443/p/1");
});

test("the site's keep_params are kept, in their order, everything else goes", () => {
  assert.equal(cleanPageUrl("https://shop.example/p?variant=red&sid=9&utm_medium=mail&page=2", ["variant", "page"]),
               "https://shop.example/p?variant=red&utm_medium=mail&page=2");
  assert.equal(cleanPageUrl("https://shop.example/p?variant=red", "variant"), "https://shop.example/p"); // not a list
  assert.equal(cleanPageUrl("https://shop.example/p?Variant=red", ["variant"]), "https://shop.example/p");
});

test("kept values are re-encoded: no backslash or space reaches the server", () => {
  assert.equal(cleanPageUrl("https://shop.example/?utm_source=a\\b c&utm_x"), "https://shop.example/?utm_source=a%5Cb%20c&utm_x=");
  assert.equal(cleanPageUrl("https://shop.example/?utm_source=%E2%9C%93+ok"), "https://shop.example/?utm_source=%E2%9C%93%20ok");
  assert.equal(cleanPageUrl("https://shop.example/?utm_source=%zz"), "https://shop.example/"); // undecodable: dropped
});

test("only http(s) page URLs are reported", () => {
  for (const u of ["file:///home/ada/shop.html", "android-app://com.google.android.gm/", "about:blank", "", null,
                   undefined, "not a url", "javascript:alert(1)"]) {
    assert.equal(cleanPageUrl(u), "", String(u));
  }
});

test("very long URLs stay within 2048 characters", () => {
  const long = "https://shop.example/" + "a".repeat(3000) + "?utm_source=x";
  assert.equal(cleanPageUrl(long).length, 2048);
  const q = "https://shop.example/p?utm_source=" + "b".repeat(3000);
  assert.equal(cleanPageUrl(q), "https://shop.example/p");
});

test("links: http(s) URLs and paths with one leading slash", () => {
  for (const u of ["https://shop.example/p/1", "http://shop.example", "https://shop.example:8443?x=1",
                   "https://[::1]:8080/i.png", "/demo/p/42", "/", "/img/a.png?w=2#top"]) {
    assert.equal(link(u), u);
  }
});

test("links: other hosts in disguise, scripts, whitespace and backslashes are refused", () => {
  for (const u of ["//evil.example", "/\\evil.example", "/\\/evil.example", "\\\\evil.example", "/\t/evil.example",
                   " /p", "/p q", "/p\n", "/a\\b", "javascript:alert(1)", "data:text/html,x", "p/42", "",
                   "https://ada@evil.example/", "https://shop.example@evil.example/", "https:/evil.example",
                   "https://evil.example\\@shop.example/", "ftp://shop.example/", null, 42, {}]) {
    assert.equal(link(u), "", JSON.stringify(u));
  }
  assert.equal(link("/" + "a".repeat(2048)), "");
});
