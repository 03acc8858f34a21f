// node --test widget/test/: page-kind guessing and the email rule, the widget's other pure parts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { guessKind } from "../src/kinds.js";
import { isEmail } from "../src/util.js";

const KIND_TABLE = [
  // [path, kind]
  ["/", "home"], ["", "home"], ["/index.html", "home"], ["/demo/", "home"],
  ["/p/red-shoe", "product"], ["/products/red-shoe", "product"], ["/item/42", "product"],
  ["/collections/shoes", "category"], ["/shop", "category"], ["/c/", "category"],
  ["/cart", "cart"], ["/basket/", "cart"], ["/Bag", "cart"],
  ["/checkout", "checkout"], ["/checkout/shipping", "checkout"],
  ["/checkout/order-received/12", "thanks"], ["/thank-you", "thanks"], ["/order-confirmation", "thanks"],
  ["/about", "other"], ["/cartography", "other"], ["/products", "other"],
];

for (const [path, kind] of KIND_TABLE) {
  test(`page kind of ${JSON.stringify(path)} is ${kind}`, () => assert.equal(guessKind(path), kind));
}

test("email: plausible addresses pass, the rest does not", () => {
  for (const ok of ["ann@example.com", "a.b+tag@sub.example.co.uk", "x@y.io"]) assert.ok(isEmail(ok), ok);
  for (const bad of ["", "ann", "ann@", "@example.com", "ann@example", "ann@example.c", "a b@example.com",
                     "ann@@example.com", null, 42, "a".repeat(250) + "@example.com"]) {
    assert.equal(isEmail(bad), false, String(bad));
  }
});
