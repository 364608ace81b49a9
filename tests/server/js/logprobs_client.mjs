// logprobs through the official OpenAI SDK: chat (logprobs + top_logprobs) and legacy
// completions (logprobs: N), plain and streamed; prints what the SDK parsed.
// argv[2]: {"baseURL", "apiKey", "model", "top", "maxTokens"}.
import OpenAI from "openai";

const cfg = JSON.parse(process.argv[2]);
const client = new OpenAI({ baseURL: cfg.baseURL + "/v1", apiKey: cfg.apiKey, maxRetries: 0 });
const messages = [{ role: "user", content: "Hello" }];
const out = {};

const chat = await client.chat.completions.create({
  model: cfg.model, messages, max_tokens: cfg.maxTokens, temperature: 0, logprobs: true,
  top_logprobs: cfg.top,
});
out.chat = { content: chat.choices[0].message.content, logprobs: chat.choices[0].logprobs,
             usage: chat.usage };

const stream = await client.chat.completions.create({
  model: cfg.model, messages, max_tokens: cfg.maxTokens, temperature: 0, logprobs: true,
  top_logprobs: cfg.top, stream: true,
});
let content = "", lps = [];
for await (const chunk of stream)
  for (const c of chunk.choices) {
    if (c.delta.content) content += c.delta.content;
    if (c.logprobs?.content) lps = lps.concat(c.logprobs.content);
  }
out.chat_stream = { content, logprobs: lps };

const noTop = await client.chat.completions.create({
  model: cfg.model, messages, max_tokens: cfg.maxTokens, temperature: 0, logprobs: true,
});
out.chat_no_top = noTop.choices[0].logprobs;
const none = await client.chat.completions.create({
  model: cfg.model, messages, max_tokens: cfg.maxTokens, temperature: 0,
});
out.chat_none = none.choices[0].logprobs;

const comp = await client.completions.create({
  model: cfg.model, prompt: "Once upon a time", max_tokens: cfg.maxTokens, temperature: 0,
  logprobs: cfg.top,
});
out.completion = { text: comp.choices[0].text, logprobs: comp.choices[0].logprobs };

const cstream = await client.completions.create({
  model: cfg.model, prompt: "Once upon a time", max_tokens: cfg.maxTokens, temperature: 0,
  logprobs: cfg.top, stream: true,
});
let ctext = "";
const merged = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
for await (const chunk of cstream)
  for (const c of chunk.choices) {
    ctext += c.text;
    if (c.logprobs) for (const k of Object.keys(merged)) merged[k] = merged[k].concat(c.logprobs[k]);
  }
out.completion_stream = { text: ctext, logprobs: merged };

async function errorOf(promise) {
  try {
    await promise;
    return { status: 0 };
  } catch (e) {
    return { status: e.status, param: e.param };
  }
}
out.bad_top = await errorOf(client.chat.completions.create({
  model: cfg.model, messages, max_tokens: 2, logprobs: true, top_logprobs: 21 }));
out.negative_top = await errorOf(client.chat.completions.create({
  model: cfg.model, messages, max_tokens: 2, logprobs: true, top_logprobs: -1 }));
out.top_without_logprobs = await errorOf(client.chat.completions.create({
  model: cfg.model, messages, max_tokens: 2, top_logprobs: 3 }));
out.bad_legacy = await errorOf(client.completions.create({
  model: cfg.model, prompt: "Hi", max_tokens: 2, logprobs: 21 }));
out.bad_logprobs_type = await errorOf(client.chat.completions.create({
  model: cfg.model, messages, max_tokens: 2, logprobs: 3 }));

console.log(JSON.stringify(out));
