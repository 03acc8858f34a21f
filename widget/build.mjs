// Bundle widget/src into static/widget.js (IIFE), stamp it with a hash of the sources
// (tests/unit/test_widget_bundle.py fails when the committed bundle is stale) and check
// the gzipped size against the budget.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const BUDGET = 12 * 1024;
const srcDir = join(here, "src");
const hash = createHash("sha256");
for (const name of readdirSync(srcDir).sort()) {
  if (name.endsWith(".js")) hash.update(name + "\0" + readFileSync(join(srcDir, name)) + "\0");
}
const stamp = hash.digest("hex").slice(0, 16);
const out = await build({
  entryPoints: [join(srcDir, "index.js")], bundle: true, minify: true, format: "iife",
  target: ["es2018"], write: false, legalComments: "none",
});
const code = `/*! linger widget v1 src:${stamp} */\n` + out.outputFiles[0].text;
const target = join(here, "..", "static", "widget.js");
writeFileSync(target, code);
const gz = gzipSync(code, { level: 9 }).length;
const pct = ((gz / BUDGET) * 100).toFixed(0);
console.log(`static/widget.js: ${code.length} bytes, ${gz} bytes gzipped (${pct}% of the ${BUDGET}-byte budget)`);
if (gz > BUDGET) {
  console.error(`widget is over its size budget by ${gz - BUDGET} bytes`);
  process.exit(1);
}

// The admin's live preview: the same popup module, on its own (not part of the widget's budget).
const preview = await build({
  entryPoints: [join(srcDir, "preview.js")], bundle: true, minify: true, format: "iife",
  target: ["es2018"], write: false, legalComments: "none",
});
writeFileSync(join(here, "..", "static", "admin", "preview.js"),
              `/*! linger preview src:${stamp} */\n` + preview.outputFiles[0].text);
console.log("static/admin/preview.js: the live preview (the widget's popup module)");
