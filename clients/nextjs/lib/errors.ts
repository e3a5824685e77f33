import type { ErrorInfo } from '@contract';

/** A JSON error in the service's own shape, `{"error": {code, message, request_id, retryable}}`. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  options: {
    requestId?: string | null;
    retryable?: boolean;
    details?: ErrorInfo['details'];
    headers?: HeadersInit;
  } = {},
): Response {
  const error: ErrorInfo = {
    code,
    message,
    request_id: options.requestId ?? null,
    retryable: options.retryable ?? false,
    details: options.details ?? null,
  };
  const headers = new Headers(options.headers);
  if (options.requestId) headers.set('x-request-id', options.requestId);
  headers.set('cache-control', 'no-store');
  return Response.json({ error }, { status, headers });
}
