import 'server-only';

// Which analysis a chat is streaming, for the AI SDK's resume: the POST route remembers the
// service's analysis id in a cookie named after the chat id, and GET /api/chat/{id}/stream
// reconnects to that analysis. An HttpOnly cookie scoped to /api/chat: the browser keeps it
// across a reload, and the service still checks the analysis belongs to the caller's org.
const CHAT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_AGE_SECONDS = 600;

function cookieName(chatId: string): string | null {
  return CHAT_ID.test(chatId) ? `chat-${chatId}` : null;
}

/** The chat id of a DefaultChatTransport body (`{id, messages, …}`), if it has a usable one. */
export function chatIdOf(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { id?: unknown };
    return typeof parsed.id === 'string' && cookieName(parsed.id) ? parsed.id : null;
  } catch {
    return null;
  }
}

export function rememberAnalysis(headers: Headers, chatId: string, analysisId: string): void {
  const name = cookieName(chatId);
  if (!name || !/^[0-9a-f-]{36}$/.test(analysisId)) return;
  headers.append(
    'set-cookie',
    `${name}=${analysisId}; Path=/api/chat; Max-Age=${MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax`,
  );
}

export function analysisOf(request: Request, chatId: string): string | null {
  const name = cookieName(chatId);
  if (!name) return null;
  for (const pair of (request.headers.get('cookie') ?? '').split(';')) {
    const [key, value] = pair.trim().split('=');
    if (key === name && value && /^[0-9a-f-]{36}$/.test(value)) return value;
  }
  return null;
}
