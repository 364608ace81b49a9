#!/usr/bin/env node
// The tokenizer tests' oracle: the Rust `tokenizers` library (npm @anush008/tokenizers 0.6.0, a
// napi build of tokenizers 0.22.2, the version transformers uses) encodes and decodes a corpus.
//
// usage: node oracle.mjs TOKENIZER_JSON CORPUS_JSONL...
// Corpus: one JSON object per line with "id" and "text". Output (stdout), one JSON line per case:
//   corpus, id, text,
//   ids             encode(text, addSpecialTokens=true)
//   ids_no_special  encode(text, addSpecialTokens=false)
//   tokens          the token strings of ids_no_special
//   decode          decode(ids, skipSpecialTokens=false)
//   decode_skip     decode(ids, skipSpecialTokens=true)
//   error           only if the library threw for this case
// The first line is a header {"_header": {library, version, rewrites}}. Exit status 3 (and an
// "error" in the header) when the library cannot load the tokenizer.
//
// Two spellings that tokenizers 0.22.2 cannot parse are rewritten into the equivalent form it
// can, and counted in the header's "rewrites" (tests/tokenizer/RUST_ORACLE.md):
//   - "merges": {} (an empty object) becomes [];
//   - a string merge with more than one space ("   " in Llama 2's file: tokens that contain a
//     space) becomes the pair [a, b] whose parts and concatenation are all in the vocabulary
//     (and then every merge is written as a pair, since a list cannot mix the two forms).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Tokenizer } = require("@anush008/tokenizers");

const [tokPath, ...corpora] = process.argv.slice(2);
if (!tokPath || corpora.length === 0) {
  console.error("usage: node oracle.mjs TOKENIZER_JSON CORPUS_JSONL...");
  process.exit(2);
}

function rewrite(tj) {
  const rewrites = [];
  const m = tj.model;
  if (m && m.merges && !Array.isArray(m.merges) && typeof m.merges === "object" &&
      Object.keys(m.merges).length === 0) {
    m.merges = [];
    rewrites.push("merges {} -> []");
  }
  if (m && Array.isArray(m.merges) && m.vocab && typeof m.vocab === "object") {
    let n = 0;
    m.merges = m.merges.map((s) => {
      if (typeof s !== "string" || s.split(" ").length === 2) return s;
      for (let k = s.indexOf(" "); k >= 0; k = s.indexOf(" ", k + 1)) {
        const a = s.slice(0, k), b = s.slice(k + 1);
        if (a in m.vocab && b in m.vocab && (a + b) in m.vocab) {
          n++;
          return [a, b];
        }
      }
      return s;
    });
    // A merges list is all strings or all pairs: write every merge as a pair then.
    if (n) {
      m.merges = m.merges.map((s) => (typeof s === "string" ? s.split(" ") : s));
      rewrites.push(`${n} string merges with spaces inside tokens -> [a, b] (all merges as pairs)`);
    }
  }
  return rewrites;
}

const version = JSON.parse(fs.readFileSync(require.resolve("@anush008/tokenizers/package.json"), "utf8")).version;
const tj = JSON.parse(fs.readFileSync(tokPath, "utf8"));
const rewrites = rewrite(tj);
const header = { library: "@anush008/tokenizers", version, tokenizer_json: path.resolve(tokPath), rewrites };
let tok;
try {
  tok = Tokenizer.fromString(JSON.stringify(tj));
} catch (e) {
  header.error = String(e && e.message ? e.message : e);
  process.stdout.write(JSON.stringify({ _header: header }) + "\n");
  process.exit(3);
}

// transformers encodes without the padding and truncation a tokenizer.json may carry
// (set_truncation_and_padding turns them off unless asked for), and so does hfkit.
tok.disablePadding();
tok.disableTruncation();

const out = [JSON.stringify({ _header: header })];
for (const corpus of corpora) {
  const name = path.basename(corpus);
  for (const line of fs.readFileSync(corpus, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    const rec = { corpus: name, id: c.id, text: c.text };
    try {
      const withSpecial = await tok.encode(c.text, null, { addSpecialTokens: true });
      const noSpecial = await tok.encode(c.text, null, { addSpecialTokens: false });
      rec.ids = withSpecial.getIds();
      rec.ids_no_special = noSpecial.getIds();
      rec.tokens = noSpecial.getTokens();
      rec.decode = await tok.decode(rec.ids, false);
      rec.decode_skip = await tok.decode(rec.ids, true);
    } catch (e) {
      rec.error = String(e && e.message ? e.message : e);
    }
    out.push(JSON.stringify(rec));
  }
}
process.stdout.write(out.join("\n") + "\n");
