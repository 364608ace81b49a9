#!/usr/bin/env node
// The Rust `tokenizers` library (the same pinned napi build as oracle.mjs) on pairs of texts: what
// a cross-encoder's tokenizer call gives (transformers: tokenizer(a, b, truncation=True,
// max_length=N), i.e. LongestFirst truncation, stride 0, from the right).
//
// usage: node pair_oracle.mjs TOKENIZER_JSON CASES_JSONL
// Cases: one JSON object per line with "a", "b" and "max_length" (0: no truncation). Output: a
// header line {"_header": {library, version}}, then per case {"ids", "type_ids"} (or "error").
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Tokenizer } = require("@anush008/tokenizers");
const [tokPath, casesPath] = process.argv.slice(2);
if (!tokPath || !casesPath) {
  console.error("usage: node pair_oracle.mjs TOKENIZER_JSON CASES_JSONL");
  process.exit(2);
}
const version = JSON.parse(fs.readFileSync(require.resolve("@anush008/tokenizers/package.json"), "utf8")).version;
const header = { library: "@anush008/tokenizers", version };
let tok;
try {
  tok = Tokenizer.fromString(fs.readFileSync(tokPath, "utf8"));
} catch (e) {
  header.error = String(e && e.message ? e.message : e);
  process.stdout.write(JSON.stringify({ _header: header }) + "\n");
  process.exit(3);
}
tok.disablePadding();
const out = [JSON.stringify({ _header: header })];
for (const line of fs.readFileSync(casesPath, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  if (c.max_length > 0) tok.setTruncation(c.max_length, { strategy: "LongestFirst" });
  else tok.disableTruncation();
  try {
    const e = await tok.encode(c.a, c.b, { addSpecialTokens: true });
    out.push(JSON.stringify({ ids: e.getIds(), type_ids: e.getTypeIds() }));
  } catch (e) {
    out.push(JSON.stringify({ error: String(e && e.message ? e.message : e) }));
  }
}
process.stdout.write(out.join("\n") + "\n");
