/**
 * A small Server-Sent Events reader for a fetch() body. EventSource cannot POST, so the page reads
 * the response body itself: this yields one message per event, as the SSE spec dispatches them.
 *
 * - lines end in \n, \r\n or \r; a blank line dispatches the event;
 * - `data:` lines are joined with \n; `event:` names the event (default `message`); `id:` is kept;
 * - comment lines (`: ping`, the service's keep-alive) and unknown fields are ignored.
 */
export interface SseMessage {
  event: string;
  data: string;
  id: string | undefined;
}

export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let lastId: string | undefined;
  let finished = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      // A trailing \r may be the first half of \r\n: wait for the next chunk to decide.
      while ((end = lineEnd(buffer)) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(buffer.startsWith('\r\n', end) ? end + 2 : end + 1);
        if (line === '') {
          if (data.length > 0) {
            lastId = id ?? lastId;
            yield { event: event || 'message', data: data.join('\n'), id: lastId };
          }
          event = '';
          data = [];
          id = undefined;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'data') data.push(text);
        else if (field === 'event') event = text;
        else if (field === 'id' && !text.includes('\0')) id = text;
      }
    }
  } finally {
    // The consumer stopped early (or reading failed): let go of the connection.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  // The stream ended without a final blank line: the spec drops that incomplete event.
}

function lineEnd(buffer: string): number {
  for (let i = 0; i < buffer.length; i++) {
    const c = buffer.charCodeAt(i);
    if (c === 10) return i;
    if (c === 13) return i + 1 < buffer.length ? i : -1;
  }
  return -1;
}
