// Heartbeats no client mistakes for a message: @microsoft/fetch-event-source and
// eventsource-parser read every format of a slow stream (the model pauses 0.6 s between chunks,
// the service sends a keep-alive every 0.2 s) and see no empty event. The keep-alive is a
// comment line with no blank line after it; httpx-sse is checked in tests/test_heartbeats.py.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { fetchEventSource } from '@microsoft/fetch-event-source';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

import { type Proc, type Service, startModelServer, startService, textChunks, token } from './support';

const FORMATS = ['tokens', 'events', 'ai-sdk'] as const;

// fetch-event-source is a browser library: it reads `window.setTimeout` and listens on
// `document` for visibility changes. Node has neither, so the two globals it touches are given
// their browser shape here (a visible document); its parsing code runs unchanged.
const browserLike = globalThis as unknown as { window?: typeof globalThis; document?: EventTarget & { hidden: boolean } };
browserLike.window ??= globalThis;
browserLike.document ??= Object.assign(new EventTarget(), { hidden: false });
const ANSWER = JSON.stringify({ findings: [], summary: 'Nothing to report.' });

let dir: string;
let model: { baseUrl: string; proc: Proc } | undefined;
let service: Service | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kit-heartbeats-'));
  const answer = join(dir, 'answer.json');
  await writeFile(answer, ANSWER);
  model = await startModelServer(answer, join(dir, 'model.log'), 0.6);
  service = await startService({
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: 'unused',
    OPENAI_BASE_URL: model.baseUrl,
    SSE_HEARTBEAT_SECONDS: '0.2',
  });
});

after(async () => {
  await service?.stop();
  await model?.proc.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function request(format: string): Promise<[string, RequestInit]> {
  return [
    `${service!.baseUrl}/v1/analyse/stream?format=${format}`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'The Supplier may terminate at any time.', document_type: 'contract' }),
    },
  ];
}

function checkMessages(format: string, data: string[], raw?: string) {
  assert.ok(data.length > 2, `${format}: too few events`);
  assert.deepEqual(
    data.filter((item) => item === ''),
    [],
    `${format}: an empty event`,
  );
  assert.equal(data.at(-1), '[DONE]');
  for (const item of data.slice(0, -1)) JSON.parse(item); // every message is JSON
  if (raw !== undefined) assert.ok((raw.match(/^: ping$/gm) ?? []).length >= 5, `${format}: no keep-alives seen`);
}

describe('keep-alives during a slow stream', () => {
  for (const format of FORMATS) {
    test(`eventsource-parser, ${format}`, async () => {
      const [url, init] = await request(format);
      const response = await fetch(url, init);
      assert.equal(response.status, 200);
      const data: string[] = [];
      const comments: string[] = [];
      const parser = createParser({
        onEvent: (event: EventSourceMessage) => data.push(event.data),
        onComment: (comment: string) => comments.push(comment),
      });
      let raw = '';
      for await (const text of textChunks(response.body!)) {
        raw += text;
        parser.feed(text);
      }
      checkMessages(format, data, raw);
      assert.ok(comments.length >= 5, `${format}: the parser saw ${comments.length} comments`);
    });

    test(`@microsoft/fetch-event-source, ${format}`, async () => {
      const [url, init] = await request(format);
      const data: string[] = [];
      await fetchEventSource(url, {
        ...(init as { method: string; headers: Record<string, string>; body: string }),
        openWhenHidden: true,
        fetch,
        async onopen(response) {
          assert.equal(response.status, 200);
        },
        onmessage: (message) => data.push(message.data),
        onerror(error) {
          throw error; // no retries: one stream, checked as it is
        },
      });
      checkMessages(format, data);
    });
  }
});
