import { chatIdOf, rememberAnalysis } from '@/lib/chat-resume';
import { errorResponse } from '@/lib/errors';
import { serviceUrl, tokenOrError } from '@/lib/service';

// The AI SDK's `useChat` (DefaultChatTransport) and `useCompletion` post here; the body goes to
// the service's `/v1/analyse/chat` exactly as the hook sent it (no prepareSendMessagesRequest),
// and the service's UI message stream comes back unbuffered. The analysis is resumable: a
// reload reconnects to it through GET /api/chat/{chatId}/stream ([id]/stream/route.ts), and one
// nobody reconnects to is cancelled after the service's RESUME_GRACE_SECONDS.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';
export const maxDuration = 300;

const FORWARDED = ['x-analysis-id', 'x-request-id', 'x-vercel-ai-ui-message-stream', 'retry-after', 'www-authenticate'];

export async function POST(req: Request): Promise<Response> {
  const requestId = crypto.randomUUID();
  const token = await tokenOrError(requestId);
  if (token instanceof Response) return token;
  const body = await req.text();
  let upstream: Response;
  try {
    upstream = await fetch(`${serviceUrl()}/v1/analyse/chat?resumable=true`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        'X-Request-ID': requestId,
      },
      body,
      // Stop (or a reload) aborts req.signal, which aborts this call; the service keeps the
      // analysis for a reconnect, then ends it `cancelled`.
      signal: req.signal,
      cache: 'no-store',
    });
  } catch {
    if (req.signal.aborted) return new Response(null, { status: 499 });
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
  headers.set('content-type', upstream.headers.get('content-type') ?? 'application/json');
  headers.set('cache-control', 'no-cache, no-transform');
  headers.set('x-accel-buffering', 'no');
  const chatId = chatIdOf(body);
  const analysisId = upstream.headers.get('x-analysis-id');
  if (upstream.ok && chatId && analysisId) rememberAnalysis(headers, chatId, analysisId);
  return new Response(upstream.body, { status: upstream.status, headers });
}
