#!/usr/bin/env node
// Lists every case where the JS references (../shared/reference/tokenizers/<name>.jsonl, made with
// the JS port @huggingface/tokenizers 0.2.0) differ from the Rust library on the shared corpus.
// usage: node compare_js.mjs SHARED_DIR   (prints one block per differing case; summary on stderr)
// The differences and their reasons are written up in ../RUST_ORACLE.md.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";

const shared = process.argv[2];
if (!shared) {
  console.error("usage: node compare_js.mjs SHARED_DIR");
  process.exit(2);
}
const pairs = {
  gpt2: "tokenizers/gpt2", "tiny-gpt2": "models/tiny-gpt2", "aidreams260K-hf": "models/aidreams260K",
  llama2: "tokenizers/llama2", "llama3-npm-lenml": "tokenizers/llama3-npm-lenml", "phi-2": "tokenizers/phi-2",
  "phi-3-mini": "tokenizers/phi-3-mini", falcon: "tokenizers/falcon", "roberta-base": "tokenizers/roberta-base",
  clip: "tokenizers/clip", "t5-small": "tokenizers/t5-small",
  "bert-base-uncased-wordpiece": "tokenizers/bert-base-uncased-wordpiece", "added-tokens": "tokenizers/added-tokens",
};
// transformers' CLIPTokenizerFast.decode wraps the library's: "</w>" -> " ", then Python's
// str.strip() (str.isspace characters). The JS references hold the wrapped text; so does hfkit.
const pySpace = (c) => (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c === 0x85 || c === 0xa0 ||
  c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
  c === 0x205f || c === 0x3000;
function clipWrapper(s) {
  const cps = Array.from(s.split("</w>").join(" "));
  let b = 0, e = cps.length;
  while (b < e && pySpace(cps[b].codePointAt(0))) b++;
  while (e > b && pySpace(cps[e - 1].codePointAt(0))) e--;
  return cps.slice(b, e).join("");
}
const here = path.dirname(new URL(import.meta.url).pathname);
const corpus = path.join(shared, "reference/tokenizers/corpus.jsonl");
let total = 0, differing = 0;
for (const [name, dir] of Object.entries(pairs)) {
  const refPath = path.join(shared, "reference/tokenizers", name + ".jsonl");
  const ref = fs.readFileSync(refPath, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  if (ref[0]._header?.construct_error) {
    console.log(`== ${name}: no JS reference (the JS port cannot load it: ${ref[0]._header.construct_error})`);
    continue;
  }
  const out = execFileSync("node", [path.join(here, "oracle.mjs"), path.join(shared, dir, "tokenizer.json"), corpus],
                           { maxBuffer: 1 << 30 }).toString();
  const rust = new Map(out.split("\n").filter((l) => l.trim()).slice(1).map((l) => JSON.parse(l)).map((r) => [r.id, r]));
  for (const js of ref.slice(1)) {
    const r = rust.get(js.id);
    if (name === "clip") {
      r.decode = clipWrapper(r.decode);
      r.decode_skip = clipWrapper(r.decode_skip);
    }
    total++;
    const diffs = [];
    for (const f of ["ids", "ids_no_special", "tokens", "decode", "decode_skip"])
      if (JSON.stringify(js[f]) !== JSON.stringify(r[f])) diffs.push(`  ${f}\n    js   ${JSON.stringify(js[f])}\n    rust ${JSON.stringify(r[f])}`);
    if (diffs.length) {
      differing++;
      console.log(`== ${name} case ${js.id} (${js.cat}) text ${JSON.stringify(js.text)}\n${diffs.join("\n")}`);
    }
  }
}
console.error(`${total} cases, ${differing} differ between the JS references and the Rust library`);
