import { AnalyseRequest, ErrorBody } from '@contract';

import { errorResponse } from '@/lib/errors';
import { getFastAPIToken, TokenConfigError, UnauthenticatedError } from '@/lib/fastapi-token';

// A thin proxy: check the body against the generated contract, mint a one-use token, call the
// FastAPI service and hand its event stream to the browser as it arrives.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';
// Streaming functions may run up to 300 s on Vercel; the service ends any stream at
// STREAM_MAX_SECONDS (280 s) with a `deadline_exceeded` error event, just before that.
export const maxDuration = 300;

const FORMATS = new Set(['events', 'tokens', 'ai-sdk']);
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;
// Passed through from the service to the browser.
const FORWARDED = ['x-analysis-id', 'x-request-id', 'x-vercel-ai-ui-message-stream'];

function serviceUrl(): string {
  const base = process.env.FASTAPI_BASE_URL ?? 'http://127.0.0.1:8000';
  return base.replace(/\/+$/, '');
}

export async function POST(req: Request): Promise<Response> {
  const given = req.headers.get('x-request-id');
  const requestId = given && SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID();

  const format = new URL(req.url).searchParams.get('format') ?? 'events';
  if (!FORMATS.has(format)) {
    return errorResponse(400, 'bad_request', 'format must be events, tokens or ai-sdk', { requestId });
  }

  let json: unknown;
  try {
    json = await req.json();
  } catch {
    return errorResponse(400, 'bad_request', 'the request body is not JSON', { requestId });
  }
  const body = AnalyseRequest.safeParse(json);
  if (!body.success) {
    const issues = body.error.issues.map((issue) => ({
      loc: ['body', ...issue.path.map(String)],
      msg: issue.message,
      type: issue.code,
    }));
    const message = issues.map((issue) => `${issue.loc.slice(1).join('.') || 'body'}: ${issue.msg}`);
    return errorResponse(422, 'validation_error', message.join('; '), { requestId, details: issues });
  }

  let token: string;
  try {
    token = await getFastAPIToken();
  } catch (error) {
    if (error instanceof UnauthenticatedError) {
      return errorResponse(401, 'unauthorized', 'sign in to analyse documents', { requestId });
    }
    if (error instanceof TokenConfigError) {
      console.error(`analyse: ${error.message}`);
      return errorResponse(500, 'server_misconfigured', 'the server cannot call the analysis service', {
        requestId,
      });
    }
    throw error;
  }

  let upstream: Response;
  try {
    upstream = await fetch(`${serviceUrl()}/v1/analyse/stream?format=${format}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        Accept: 'text/event-stream',
        'X-Request-ID': requestId,
      },
      body: JSON.stringify(body.data),
      // The browser closing the tab aborts req.signal, which aborts this call: the service
      // sees the disconnect, stops the model and records the analysis as `cancelled`.
      signal: req.signal,
      cache: 'no-store',
      // No `duplex: 'half'`: that is only needed to *send* a streamed request body. Reading
      // upstream.body as a stream works without it.
    });
  } catch (error) {
    if (req.signal.aborted) return new Response(null, { status: 499 });
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    console.error(`analyse: the analysis service cannot be reached: ${String(cause)}`);
    return errorResponse(502, 'upstream_unavailable', 'the analysis service cannot be reached', {
      requestId,
      retryable: true,
    });
  }

  const headers = new Headers();
  for (const name of FORWARDED) {
    const value = upstream.headers.get(name);
    if (value) headers.set(name, value);
  }
  if (!headers.has('x-request-id')) headers.set('x-request-id', requestId);

  if (!upstream.ok || !upstream.body) {
    // The service failed before its first token: a real status and `{"error": {...}}`. Pass the
    // body through as it is when it is that shape (keeping extra keys such as `details`).
    const text = await upstream.text().catch(() => '');
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = undefined;
    }
    for (const name of ['retry-after', 'www-authenticate']) {
      const value = upstream.headers.get(name);
      if (value) headers.set(name, value);
    }
    if (ErrorBody.safeParse(payload).success) {
      headers.set('cache-control', 'no-store');
      return Response.json(payload, { status: upstream.status, headers });
    }
    const status = upstream.ok ? 502 : upstream.status;
    return errorResponse(status, 'upstream_error', `the analysis service answered HTTP ${upstream.status}`, {
      requestId: headers.get('x-request-id'),
      retryable: status >= 500 || status === 429,
      headers,
    });
  }

  headers.set('content-type', upstream.headers.get('content-type') ?? 'text/event-stream; charset=utf-8');
  // no-transform keeps `next start`'s gzip (and other proxies) from buffering the stream.
  headers.set('cache-control', 'no-cache, no-transform');
  headers.set('x-accel-buffering', 'no');
  // The upstream ReadableStream itself, not its buffered text: each event reaches the browser
  // as soon as the service sends it.
  return new Response(upstream.body, { status: 200, headers });
}
