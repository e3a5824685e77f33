import 'server-only';

import { errorResponse } from '@/lib/errors';
import { getFastAPIToken, TokenConfigError, UnauthenticatedError } from '@/lib/fastapi-token';

export function serviceUrl(): string {
  const base = process.env.FASTAPI_BASE_URL ?? 'http://127.0.0.1:8000';
  return base.replace(/\/+$/, '');
}

/** A fresh one-use token for the signed-in user, or the JSON error response to send instead. */
export async function tokenOrError(requestId: string): Promise<string | Response> {
  try {
    return await getFastAPIToken();
  } catch (error) {
    if (error instanceof UnauthenticatedError) {
      return errorResponse(401, 'unauthorized', 'sign in to analyse documents', { requestId });
    }
    if (error instanceof TokenConfigError) {
      console.error(`service: ${error.message}`);
      return errorResponse(500, 'server_misconfigured', 'the server cannot call the analysis service', {
        requestId,
      });
    }
    throw error;
  }
}

/** GET a JSON document of the service as the signed-in user (server components). */
export async function serviceJson<T>(path: string, parse: (value: unknown) => T): Promise<T> {
  const response = await fetch(`${serviceUrl()}${path}`, {
    headers: { Authorization: `Bearer ${await getFastAPIToken()}` },
    cache: 'no-store',
  });
  if (!response.ok) throw new Error(`${path}: the analysis service answered HTTP ${response.status}`);
  return parse(await response.json());
}
