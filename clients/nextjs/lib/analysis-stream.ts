import {
  AnalysisResult,
  ErrorBody,
  ErrorInfo,
  FindingEvent,
  StartEvent,
  TokenEvent,
} from '@contract';

import { readSse } from './sse';

/**
 * The service's `format=events` stream, every event checked against the generated contract:
 *
 *   start (StartEvent) → token (TokenEvent)… with finding (FindingEvent) as each one closes →
 *   result (AnalysisResult) or error (ErrorInfo) → `data: [DONE]`
 */
export type AnalysisEvent =
  | { type: 'start'; id?: string; data: StartEvent }
  | { type: 'token'; id?: string; data: TokenEvent }
  | { type: 'finding'; id?: string; data: FindingEvent }
  | { type: 'result'; id?: string; data: AnalysisResult }
  | { type: 'error'; id?: string; data: ErrorInfo };

/** An event that does not match the contract: the two sides disagree. */
export class ContractError extends Error {
  constructor(
    message: string,
    readonly event: string,
    readonly raw: string,
  ) {
    super(message);
    this.name = 'ContractError';
  }
}

const SCHEMAS = {
  start: StartEvent,
  token: TokenEvent,
  finding: FindingEvent,
  result: AnalysisResult,
  error: ErrorInfo,
} as const;

type Known = keyof typeof SCHEMAS;

export async function* readAnalysisEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<AnalysisEvent> {
  for await (const message of readSse(body)) {
    if (message.data === '[DONE]') return;
    if (!(message.event in SCHEMAS)) continue; // newer event types: skip, do not break
    const type = message.event as Known;
    let json: unknown;
    try {
      json = JSON.parse(message.data);
    } catch {
      throw new ContractError(`event ${type}: data is not JSON`, type, message.data);
    }
    const parsed = SCHEMAS[type].safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
        .join('; ');
      throw new ContractError(`event ${type} breaks the contract: ${issues}`, type, message.data);
    }
    yield { type, id: message.id, data: parsed.data } as AnalysisEvent;
  }
}

/** The `{"error": {...}}` body of a failed call, or a generic one when the body is not that. */
export async function readErrorBody(response: Response): Promise<ErrorInfo> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data.error;
  } catch {
    // not JSON: fall through
  }
  return {
    code: response.status >= 500 ? 'upstream_error' : 'error',
    message: `the request failed with HTTP ${response.status}`,
    request_id: response.headers.get('x-request-id'),
    retryable: response.status >= 500 || response.status === 429,
    details: null,
  };
}
