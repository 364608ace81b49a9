// Drives hfkit serve with the official OpenAI SDK and prints what it parsed, as JSON, for the
// Python test to check. argv[2]: {"baseURL", "apiKey", "chatModel", "bertModel", "bertTexts"}.
import OpenAI from "openai";

const cfg = JSON.parse(process.argv[2]);
const client = new OpenAI({ baseURL: cfg.baseURL + "/v1", apiKey: cfg.apiKey, maxRetries: 0 });
const out = {};

out.models = (await client.models.list()).data.map((m) => m.id);
out.retrieved = (await client.models.retrieve(cfg.chatModel)).id;

const messages = [{ role: "user", content: "Hello" }];
const chat = await client.chat.completions.create({
  model: cfg.chatModel, messages, max_tokens: 8, temperature: 0,
});
out.chat = {
  text: chat.choices[0].message.content, role: chat.choices[0].message.role,
  finish_reason: chat.choices[0].finish_reason, usage: chat.usage, object: chat.object,
};

const stream = await client.chat.completions.create({
  model: cfg.chatModel, messages, max_completion_tokens: 8, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let text = "", finish = null, usage = null, role = null, chunks = 0;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    if (c.delta.role) role = c.delta.role;
    if (c.delta.content) text += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
}
out.chat_stream = { text, finish_reason: finish, usage, role, chunks };

const stopped = await client.chat.completions.create({
  model: cfg.chatModel, messages, max_tokens: 8, temperature: 0, stop: [cfg.stop],
});
out.chat_stop = { text: stopped.choices[0].message.content, finish_reason: stopped.choices[0].finish_reason };

const comp = await client.completions.create({
  model: cfg.chatModel, prompt: "Once upon a time", max_tokens: 6, temperature: 0,
});
out.completion = { text: comp.choices[0].text, finish_reason: comp.choices[0].finish_reason, usage: comp.usage };

const cstream = await client.completions.create({
  model: cfg.chatModel, prompt: "Once upon a time", max_tokens: 6, temperature: 0, stream: true,
});
let ctext = "", cfinish = null;
for await (const chunk of cstream) {
  for (const c of chunk.choices) {
    ctext += c.text;
    if (c.finish_reason) cfinish = c.finish_reason;
  }
}
out.completion_stream = { text: ctext, finish_reason: cfinish };

// The SDK asks for base64 by default and decodes it; also ask for plain floats.
const emb = await client.embeddings.create({ model: cfg.bertModel, input: cfg.bertTexts });
const embFloat = await client.embeddings.create({
  model: cfg.bertModel, input: cfg.bertTexts, encoding_format: "float",
});
out.embeddings = {
  base64: emb.data.map((d) => Array.from(d.embedding)), float: embFloat.data.map((d) => d.embedding),
  usage: emb.usage, indices: emb.data.map((d) => d.index),
};

async function statusOf(promise) {
  try {
    await promise;
    return { status: 0 };
  } catch (e) {
    return { status: e.status, type: e.type, code: e.code, param: e.param, message: e.message,
             name: e.constructor.name };
  }
}
out.unknown_model = await statusOf(client.chat.completions.create({ model: "no/such-model", messages }));
out.bad_temperature = await statusOf(
  client.chat.completions.create({ model: cfg.chatModel, messages, temperature: 7 }));
const wrongKey = new OpenAI({ baseURL: cfg.baseURL + "/v1", apiKey: "wrong-key", maxRetries: 0 });
out.wrong_key = await statusOf(wrongKey.models.list());

console.log(JSON.stringify(out));
