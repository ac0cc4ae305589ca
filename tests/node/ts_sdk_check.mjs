// Drives the gateway with the official TypeScript SDK (@anthropic-ai/sdk), as an application would.
// Env: GATEWAY_BASE_URL, GATEWAY_API_KEY, MODEL (optional). Streams a text answer, a tool call and a web
// search with client.messages.stream(...), asks for a web search without streaming, collects what the SDK
// saw, and prints one JSON object on stdout for tests/e2e/test_e2e_typescript_sdk.py to check. Exits 1
// (still printing JSON) if the SDK threw.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({
  baseURL: process.env.GATEWAY_BASE_URL,
  apiKey: process.env.GATEWAY_API_KEY,
  maxRetries: 0,
  timeout: 30_000,
});
const model = process.env.MODEL || 'claude-sonnet-4-6';

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

async function streamText() {
  const stream = client.messages.stream({
    model,
    max_tokens: 256,
    messages: [{ role: 'user', content: 'Say hello.' }],
  });
  const deltas = [];
  stream.on('text', (delta) => deltas.push(delta));
  const finalMessage = await stream.finalMessage();
  const finalText = await stream.finalText();
  return { deltas, finalText, finalMessage, requestId: stream.request_id ?? null };
}

async function streamToolCall() {
  const stream = client.messages.stream({
    model,
    max_tokens: 256,
    tools: [weatherTool],
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  const partialJson = [];
  stream.on('inputJson', (delta) => partialJson.push(delta));
  const finalMessage = await stream.finalMessage();
  return { partialJson, finalMessage };
}

const webSearchTool = { type: 'web_search_20250305', name: 'web_search', max_uses: 3 };
const searchQuestion = [{ role: 'user', content: 'Does Django do async? Search the web.' }];

async function streamWebSearch() {
  const stream = client.messages.stream({ model, max_tokens: 1024, tools: [webSearchTool], messages: searchQuestion });
  const events = [];
  const citations = [];
  stream.on('streamEvent', (event) => events.push(event.type === 'content_block_delta' ? event.delta.type : event.type));
  stream.on('citation', (citation) => citations.push(citation));
  const finalMessage = await stream.finalMessage();
  return { events, citations, finalMessage };
}

async function createWebSearch() {
  return { message: await client.messages.create({ model, max_tokens: 1024, tools: [webSearchTool], messages: searchQuestion }) };
}

async function streamError() {
  try {
    await client.messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: 'Fail.' }] }).finalMessage();
    return { raised: false };
  } catch (err) {
    return { raised: true, name: err?.constructor?.name ?? null, status: err?.status ?? null, error: err?.error ?? null };
  }
}

const result = {};
let failed = false;
for (const [name, run] of [
  ['text', streamText],
  ['tool', streamToolCall],
  ['error', streamError],
  ['webSearch', streamWebSearch],
  ['webSearchCreate', createWebSearch],
]) {
  try {
    result[name] = await run();
  } catch (err) {
    failed = true;
    result[name] = { exception: String(err?.stack ?? err), status: err?.status ?? null, error: err?.error ?? null };
  }
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(failed ? 1 : 0);
