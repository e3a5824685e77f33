import { analysisOf } from '@/lib/chat-resume';
import { errorResponse } from '@/lib/errors';
import { serviceUrl, tokenOrError } from '@/lib/service';

// The AI SDK's `useChat({resume: true})` calls GET /api/chat/{chatId}/stream when the page
// loads: the analysis this chat started (see lib/chat-resume.ts) is replayed from its first
// part and followed live to the end, by the service's GET /v1/analyses/{id}/stream. No analysis
// for this chat (or one the service no longer knows): 204, which the hook reads as "nothing to
// resume".
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';
export const maxDuration = 300;

const FORWARDED = ['x-analysis-id', 'x-request-id', 'x-vercel-ai-ui-message-stream', 'retry-after'];

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await params;
  const analysisId = analysisOf(req, id);
  if (!analysisId) return new Response(null, { status: 204 });
  const requestId = crypto.randomUUID();
  const token = await tokenOrError(requestId);
  if (token instanceof Response) return token;
  let upstream: Response;
  try {
    upstream = await fetch(`${serviceUrl()}/v1/analyses/${analysisId}/stream?format=ai-sdk`, {
      headers: { Authorization: `Bearer ${token}`, 'X-Request-ID': requestId },
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
  if (upstream.status === 404) {
    await upstream.body?.cancel();
    return new Response(null, { status: 204 });
  }
  const headers = new Headers();
  for (const name of FORWARDED) {
    const value = upstream.headers.get(name);
    if (value) headers.set(name, value);
  }
  headers.set('content-type', upstream.headers.get('content-type') ?? 'application/json');
  headers.set('cache-control', 'no-cache, no-transform');
  headers.set('x-accel-buffering', 'no');
  return new Response(upstream.body, { status: upstream.status, headers });
}
