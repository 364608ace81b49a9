// Structured output through the official OpenAI SDK: response_format json_schema and
// json_object on chat (plain, streamed, and the SDK's beta parse helper) and text completions,
// over many seeds with sampling on. Prints the raw contents for the Python test to validate
// with an independent validator (python3-jsonschema).
// argv[2]: {"baseURL", "apiKey", "model", "schema", "seeds", "maxTokens"}.
import OpenAI from "openai";

const cfg = JSON.parse(process.argv[2]);
const client = new OpenAI({ baseURL: cfg.baseURL + "/v1", apiKey: cfg.apiKey, maxRetries: 0 });
const messages = [{ role: "user", content: "Describe a person as JSON." }];
const format = {
  type: "json_schema", json_schema: { name: "person", schema: cfg.schema, strict: true },
};
const out = { chat: [], chat_stream: [], completion: [] };

for (const seed of cfg.seeds) {
  const r = await client.chat.completions.create({
    model: cfg.model, messages, max_tokens: cfg.maxTokens, temperature: 1.0, seed,
    response_format: format,
  });
  out.chat.push({ seed, content: r.choices[0].message.content, finish: r.choices[0].finish_reason });
}

for (const seed of cfg.seeds.slice(0, 5)) {
  const stream = await client.chat.completions.create({
    model: cfg.model, messages, max_tokens: cfg.maxTokens, temperature: 1.0, seed, stream: true,
    response_format: format,
  });
  let content = "", finish = null;
  for await (const chunk of stream)
    for (const c of chunk.choices) {
      if (c.delta.content) content += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  out.chat_stream.push({ seed, content, finish });
}

for (const seed of cfg.seeds.slice(0, 5)) {
  const r = await client.completions.create({
    model: cfg.model, prompt: "Once upon a time", max_tokens: cfg.maxTokens, temperature: 1.0,
    seed, response_format: format,
  });
  out.completion.push({ seed, content: r.choices[0].text, finish: r.choices[0].finish_reason });
}

// json_object: any JSON object (unbounded, so some samples may run out of tokens).
out.json_object = [];
for (const seed of cfg.seeds.slice(0, 8)) {
  const obj = await client.chat.completions.create({
    model: cfg.model, messages, max_tokens: cfg.maxTokens, temperature: 1.0, seed,
    response_format: { type: "json_object" },
  });
  out.json_object.push({ content: obj.choices[0].message.content, finish: obj.choices[0].finish_reason });
}

// The SDK's parse helper (present in this SDK version): it JSON-parses the content itself, and
// throws LengthFinishReasonError when the output was cut by max_tokens.
out.has_parse = typeof client.beta?.chat?.completions?.parse === "function";
if (out.has_parse) {
  const parsed = await client.beta.chat.completions.parse({
    model: cfg.model, messages, max_tokens: cfg.maxTokens, temperature: 1.0, seed: 7,
    response_format: format,
  });
  out.parsed = { parsed: parsed.choices[0].message.parsed, content: parsed.choices[0].message.content };
  try {
    await client.beta.chat.completions.parse({
      model: cfg.model, messages, max_tokens: 2, temperature: 1.0, seed: 7, response_format: format,
    });
    out.parse_cut = { error: null };
  } catch (e) {
    out.parse_cut = { error: e.constructor.name };
  }
}

// Cut short by max_tokens: finish_reason "length" (the content is a prefix, not valid JSON).
const cut = await client.chat.completions.create({
  model: cfg.model, messages, max_tokens: 2, temperature: 1.0, seed: 3, response_format: format,
});
out.cut = { content: cut.choices[0].message.content, finish: cut.choices[0].finish_reason };

async function errorOf(promise) {
  try {
    await promise;
    return { status: 0 };
  } catch (e) {
    return { status: e.status, param: e.param, message: e.message };
  }
}
out.unsupported = await errorOf(client.chat.completions.create({
  model: cfg.model, messages, max_tokens: 4,
  response_format: { type: "json_schema", json_schema: { name: "x", schema: cfg.unsupportedSchema } },
}));
out.unsupported_stream = await errorOf(client.chat.completions.create({
  model: cfg.model, messages, max_tokens: 4, stream: true,
  response_format: { type: "json_schema", json_schema: { name: "x", schema: cfg.unsupportedSchema } },
}));

console.log(JSON.stringify(out));
