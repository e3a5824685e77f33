// The contract across the boundary, checked against the real Python service (offline analyzer,
// SQLite): what it sends parses with the generated Zod schemas, what the Zod request schema
// accepts is what the service accepts, and the kit's tokens are the ones the service takes.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as contract from '@contract';
import { decodeJwt, decodeProtectedHeader } from 'jose';

import { POST } from '@/app/api/analyse/stream/route';
import { type AnalysisEvent, readAnalysisEvents } from '@/lib/analysis-stream';
import { DEV_JWT_SECRET, fastapiSecret, mintFastAPIToken, TokenConfigError } from '@/lib/fastapi-token';
import { readSse } from '@/lib/sse';

import { api, example, freePort, ROOT, SECRET, type Service, startService, token, USER } from './support';

const SAMPLES = ['contract', 'privacy_policy', 'dpa', 'employment'] as const;

let service: Service;
const stored: string[] = [];

before(async () => {
  service = await startService();
});

after(async () => {
  await service?.stop();
});

async function collect(body: ReadableStream<Uint8Array>): Promise<AnalysisEvent[]> {
  const events: AnalysisEvent[] = [];
  for await (const event of readAnalysisEvents(body)) events.push(event);
  return events;
}

describe('what the service sends parses with the generated schemas', () => {
  test('POST /v1/analyse answers an AnalysisResult (and an AnalyseResponse) for every sample', async () => {
    for (const name of SAMPLES) {
      const response = await api(service, '/v1/analyse', {
        method: 'POST',
        body: JSON.stringify({ content: await example(name), document_type: name }),
      });
      assert.equal(response.status, 200, name);
      const json: unknown = await response.json();
      const result = contract.AnalysisResult.parse(json);
      contract.AnalyseResponse.parse(json);
      assert.ok(result.findings.length > 0, `${name}: no findings`);
      assert.match(result.processed_at, /Z$|[+-]\d\d:\d\d$/);
      stored.push(result.analysis_id);
    }
  });

  test('GET /v1/analyses/{id} is an AnalysisDetail; GET /v1/analyses pages are AnalysisPages', async () => {
    assert.equal(stored.length, SAMPLES.length);
    for (const id of stored) {
      const response = await api(service, `/v1/analyses/${id}`);
      assert.equal(response.status, 200);
      const detail = contract.AnalysisDetail.parse(await response.json());
      assert.equal(detail.id, id);
      assert.equal(detail.status, 'completed');
      assert.ok(detail.findings && detail.findings.length > 0);
      assert.ok(detail.completed_at);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : '?limit=3';
      const response = await api(service, `/v1/analyses${query}`);
      assert.equal(response.status, 200);
      const page = contract.AnalysisPage.parse(await response.json());
      seen.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor;
    } while (cursor);
    for (const id of stored) assert.ok(seen.includes(id), `${id} missing from the list`);
  });

  test('format=events: every event parses, in the documented order', async () => {
    const content = await example('contract');
    const response = await api(service, '/v1/analyse/stream?format=events', {
      method: 'POST',
      body: JSON.stringify({ content, document_type: 'contract' }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const analysisId = response.headers.get('x-analysis-id');
    assert.ok(analysisId);
    assert.ok(response.headers.get('x-request-id'));

    // Raw first, so an event the reader would skip (an unknown name) still fails the test.
    const raw = [];
    for await (const message of readSse(response.body!)) raw.push(message);
    assert.equal(raw.at(-1)?.data, '[DONE]');
    const known = new Set(['start', 'token', 'finding', 'result']);
    for (const message of raw.slice(0, -1)) assert.ok(known.has(message.event), `unexpected event ${message.event}`);

    const schemas = {
      start: contract.StartEvent,
      token: contract.TokenEvent,
      finding: contract.FindingEvent,
      result: contract.AnalysisResult,
    } as const;
    const parsed = raw.slice(0, -1).map((message) => ({
      event: message.event,
      data: schemas[message.event as keyof typeof schemas].parse(JSON.parse(message.data)),
    }));
    assert.equal(parsed[0]?.event, 'start');
    assert.equal(parsed.at(-1)?.event, 'result');
    const start = parsed[0]!.data as contract.StartEvent;
    const result = parsed.at(-1)!.data as contract.AnalysisResult;
    assert.equal(start.analysis_id, analysisId);
    assert.equal(result.analysis_id, analysisId);

    const findings = parsed.filter((e) => e.event === 'finding').map((e) => e.data as contract.FindingEvent);
    assert.ok(findings.length > 0);
    assert.deepEqual(findings.map((f) => f.index), findings.map((_, i) => i));
    assert.deepEqual(findings.map((f) => f.finding), result.findings);

    // The tokens are the model's raw answer: together, a draft with the same findings.
    const answer = parsed.filter((e) => e.event === 'token').map((e) => (e.data as contract.TokenEvent).token).join('');
    assert.deepEqual(JSON.parse(answer).findings, result.findings);

    const stored = contract.AnalysisDetail.parse(await (await api(service, `/v1/analyses/${analysisId}`)).json());
    assert.equal(stored.status, 'completed');
    assert.deepEqual(stored.findings, result.findings);
  });

  test('error bodies are ErrorBody: 401, 404, 422', async () => {
    const unauthorized = await fetch(`${service.baseUrl}/v1/me`);
    assert.equal(unauthorized.status, 401);
    assert.equal(contract.ErrorBody.parse(await unauthorized.json()).error.code, 'unauthorized');

    const missing = await api(service, '/v1/analyses/00000000-0000-4000-8000-000000000000');
    assert.equal(missing.status, 404);
    assert.equal(contract.ErrorBody.parse(await missing.json()).error.code, 'not_found');

    const invalid = await api(service, '/v1/analyse', { method: 'POST', body: JSON.stringify({ content: '' }) });
    assert.equal(invalid.status, 422);
    const body = contract.ErrorBody.parse(await invalid.json());
    assert.equal(body.error.code, 'validation_error');
    assert.equal(body.error.retryable, false);
  });
});

describe('the Zod request schema accepts exactly what the service accepts', () => {
  const bodies: [string, unknown][] = [
    ['content only (document_type defaults)', { content: 'The Supplier may assign this Agreement.' }],
    ['every field', { content: 'Either party may terminate.', document_type: 'privacy_policy' }],
    ['a label outside the list', { content: 'Either party may terminate.', document_type: 'Lease agreement_2' }],
    ['50,000 characters', { content: 'a'.repeat(50_000) }],
    ['50,001 characters', { content: 'a'.repeat(50_001) }],
    ['empty content', { content: '' }],
    ['no content', { document_type: 'contract' }],
    ['content not a string', { content: 42 }],
    ['null document_type', { content: 'x', document_type: null }],
    ['empty document_type', { content: 'x', document_type: '' }],
    ['document_type with a bad first character', { content: 'x', document_type: '-contract' }],
    ['document_type over 64 characters', { content: 'x', document_type: 'a'.repeat(65) }],
    ['an unknown key', { content: 'x', language: 'en' }],
    ['not an object', ['content']],
  ];
  for (const [name, body] of bodies) {
    test(name, async () => {
      const zod = contract.AnalyseRequest.safeParse(body).success;
      const response = await api(service, '/v1/analyse', { method: 'POST', body: JSON.stringify(body) });
      await response.arrayBuffer();
      assert.ok([200, 422].includes(response.status), `service answered ${response.status}`);
      assert.equal(zod, response.status === 200, `Zod says ${zod ? 'valid' : 'invalid'}, the service ${response.status}`);
    });
  }

  test('the default document_type is filled in', () => {
    assert.deepEqual(contract.AnalyseRequest.parse({ content: 'x' }), { content: 'x', document_type: 'contract' });
  });
});

describe('tokens minted by lib/fastapi-token.ts', () => {
  test('are accepted by the service: GET /v1/me answers the session user', async () => {
    const response = await api(service, '/v1/me', { headers: { authorization: `Bearer ${await token()}` } });
    assert.equal(response.status, 200);
    assert.deepEqual(contract.TokenPayload.parse(await response.json()), {
      sub: USER.id,
      org: USER.orgId,
      role: USER.role,
    });
  });

  test('carry HS256, sub, org, role, iat, a two-minute exp and a random jti', async () => {
    const jwt = await token();
    assert.equal(decodeProtectedHeader(jwt).alg, 'HS256');
    const claims = decodeJwt(jwt);
    assert.equal(claims.sub, USER.id);
    assert.equal(claims.org, USER.orgId);
    assert.equal(claims.role, USER.role);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 120);
    assert.ok(Math.abs((claims.iat ?? 0) - Date.now() / 1000) < 5);
    assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
    assert.notEqual(decodeJwt(await token()).jti, claims.jti);
  });

  test('signed with another secret are refused with 401', async () => {
    const forged = await token(USER, 'another-secret-that-is-long-enough-0123456789');
    const response = await fetch(`${service.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer');
    const body = contract.ErrorBody.parse(await response.json());
    assert.equal(body.error.code, 'unauthorized');
  });

  test('are single-use: the same token twice is refused', async () => {
    const jwt = await token();
    const first = await fetch(`${service.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${jwt}` } });
    assert.equal(first.status, 200);
    const replay = await fetch(`${service.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${jwt}` } });
    assert.equal(replay.status, 401);
  });

  test('the secret: required, 32+ bytes and not the dev secret in production; dev fallback otherwise', async () => {
    assert.throws(() => fastapiSecret({ NODE_ENV: 'production' }), TokenConfigError);
    assert.throws(() => fastapiSecret({ NODE_ENV: 'production', FASTAPI_JWT_SECRET: 'short' }), TokenConfigError);
    assert.throws(
      () => fastapiSecret({ NODE_ENV: 'production', FASTAPI_JWT_SECRET: DEV_JWT_SECRET }),
      TokenConfigError,
    );
    assert.deepEqual(fastapiSecret({ NODE_ENV: 'production', FASTAPI_JWT_SECRET: SECRET }), new TextEncoder().encode(SECRET));
    assert.deepEqual(fastapiSecret({ NODE_ENV: 'development' }), new TextEncoder().encode(DEV_JWT_SECRET));
    // The fallback is the Python side's development secret, so `make run` + `next dev` agree.
    const config = await readFile(join(ROOT, 'app', 'config.py'), 'utf8');
    assert.equal(/^DEV_JWT_SECRET = "([^"]+)"$/m.exec(config)?.[1], DEV_JWT_SECRET);
    // A dev-secret token is refused by a service that has a real secret.
    const devToken = await mintFastAPIToken(USER, { env: { NODE_ENV: 'development' } });
    const response = await fetch(`${service.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${devToken}` } });
    assert.equal(response.status, 401);
  });
});

describe('the route handler, app/api/analyse/stream/route.ts', () => {
  const saved = { ...process.env };
  before(() => {
    process.env.FASTAPI_BASE_URL = service.baseUrl;
    process.env.FASTAPI_JWT_SECRET = SECRET;
    process.env.DEMO_USER_ID = USER.id;
    process.env.DEMO_ORG_ID = USER.orgId;
    process.env.DEMO_ROLE = USER.role;
  });
  after(() => {
    for (const key of ['FASTAPI_BASE_URL', 'FASTAPI_JWT_SECRET', 'DEMO_USER_ID', 'DEMO_ORG_ID', 'DEMO_ROLE']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  const call = (body: string, query = '?format=events', headers: Record<string, string> = {}) =>
    POST(
      new Request(`http://kit.test/api/analyse/stream${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      }),
    );

  test('streams the service events through, with X-Analysis-Id and X-Request-ID', async () => {
    const response = await call(JSON.stringify({ content: await example('dpa'), document_type: 'dpa' }), '?format=events', {
      'x-request-id': 'kit-test-request-0001',
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('cache-control'), 'no-cache, no-transform');
    assert.equal(response.headers.get('x-request-id'), 'kit-test-request-0001');
    const analysisId = response.headers.get('x-analysis-id');
    assert.ok(analysisId);
    const events = await collect(response.body!);
    assert.equal(events[0]?.type, 'start');
    const last = events.at(-1);
    assert.equal(last?.type, 'result');
    assert.equal(last.type === 'result' && last.data.analysis_id, analysisId);
    assert.ok(events.some((e) => e.type === 'finding'));
  });

  test('400 for a body that is not JSON, or an unknown format', async () => {
    const notJson = await call('{content');
    assert.equal(notJson.status, 400);
    assert.equal(contract.ErrorBody.parse(await notJson.json()).error.code, 'bad_request');
    const format = await call(JSON.stringify({ content: 'x' }), '?format=xml');
    assert.equal(format.status, 400);
  });

  test('422 with the service error shape when the body breaks the Zod schema', async () => {
    const response = await call(JSON.stringify({ content: '', document_type: 'contract' }));
    assert.equal(response.status, 422);
    const body = (await response.json()) as { error: { details: { loc: string[] }[] } };
    assert.equal(contract.ErrorBody.parse(body).error.code, 'validation_error');
    assert.deepEqual(body.error.details[0]?.loc, ['body', 'content']);
  });

  test('an upstream error keeps its status and its {"error": ...} body', async () => {
    process.env.FASTAPI_JWT_SECRET = 'not-the-service-secret-0123456789-abcdefgh';
    try {
      const response = await call(JSON.stringify({ content: 'x' }));
      assert.equal(response.status, 401);
      const body = contract.ErrorBody.parse(await response.json());
      assert.equal(body.error.code, 'unauthorized');
      assert.match(body.error.message, /signature/);
      assert.ok(response.headers.get('x-request-id'));
    } finally {
      process.env.FASTAPI_JWT_SECRET = SECRET;
    }
  });

  test('502 upstream_unavailable when the service cannot be reached', async () => {
    process.env.FASTAPI_BASE_URL = `http://127.0.0.1:${await freePort()}`;
    try {
      const response = await call(JSON.stringify({ content: 'x' }));
      assert.equal(response.status, 502);
      const body = contract.ErrorBody.parse(await response.json());
      assert.equal(body.error.code, 'upstream_unavailable');
      assert.equal(body.error.retryable, true);
    } finally {
      process.env.FASTAPI_BASE_URL = service.baseUrl;
    }
  });

  test('401 without a session', async () => {
    const env = process.env as Record<string, string | undefined>;
    const { NODE_ENV, DEMO_USER_ID } = env;
    env.NODE_ENV = 'production';
    delete env.DEMO_USER_ID;
    try {
      const response = await call(JSON.stringify({ content: 'x' }));
      assert.equal(response.status, 401);
      assert.equal(contract.ErrorBody.parse(await response.json()).error.code, 'unauthorized');
    } finally {
      if (NODE_ENV === undefined) delete env.NODE_ENV;
      else env.NODE_ENV = NODE_ENV;
      env.DEMO_USER_ID = DEMO_USER_ID;
    }
  });
});
